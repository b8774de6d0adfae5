/** JSON text parsed, or undefined when it is not JSON: for stored values a schema then reads. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
