export type CheckStatus = "ok" | "warn" | "fail";

/** One finding: `fail` stands between this machine and a first video, `warn` is worth knowing. */
export interface DoctorCheck {
  check: string;
  status: CheckStatus;
  detail: string;
  /** What to do, for warn and fail. */
  fix?: string;
}

export const ok = (check: string, detail: string): DoctorCheck => ({ check, status: "ok", detail });
export const warn = (check: string, detail: string, fix: string): DoctorCheck => ({ check, status: "warn", detail, fix });
export const fail = (check: string, detail: string, fix: string): DoctorCheck => ({ check, status: "fail", detail, fix });
