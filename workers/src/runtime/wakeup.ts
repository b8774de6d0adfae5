/**
 * Waiters parked until something happens (a pub/sub message) or a recheck interval passes: the interval
 * covers what sends no message (memory freed outside the platform, a holder that died).
 */
export class Wakeup {
  private readonly waiters = new Set<() => void>();

  constructor(private readonly recheckMs: number) {}

  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  next(): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, this.recheckMs);
      this.waiters.add(wake);
    });
  }
}
