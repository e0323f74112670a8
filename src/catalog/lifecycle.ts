/**
 * The status machine shared by rules and limits (Tracer's, with same-state requests as no-ops):
 * DRAFT→ACTIVE, ACTIVE→INACTIVE, INACTIVE→ACTIVE|DRAFT, DRAFT|INACTIVE→DELETED.
 */
export const STATUSES = ["DRAFT", "ACTIVE", "INACTIVE", "DELETED"] as const;
export type Status = (typeof STATUSES)[number];
export type Transition = "activate" | "deactivate" | "draft" | "delete";

const TARGET: Record<Transition, Status> = {
  activate: "ACTIVE",
  deactivate: "INACTIVE",
  draft: "DRAFT",
  delete: "DELETED",
};

const ALLOWED_FROM: Record<Transition, readonly Status[]> = {
  activate: ["DRAFT", "INACTIVE"],
  deactivate: ["ACTIVE"],
  draft: ["INACTIVE"],
  delete: ["DRAFT", "INACTIVE"],
};

export type TransitionOutcome =
  | { kind: "change"; to: Status }
  | { kind: "noop" }
  | { kind: "invalid"; message: string };

/** Decides a transition without side effects. */
export function planTransition(from: Status, transition: Transition): TransitionOutcome {
  const to = TARGET[transition];
  if (from === to) return { kind: "noop" };
  if (ALLOWED_FROM[transition].includes(from)) return { kind: "change", to };
  const hint =
    from === "ACTIVE" && (transition === "delete" || transition === "draft") ? "; deactivate it first" : "";
  return { kind: "invalid", message: `cannot ${transition} from ${from}${hint}` };
}

export const TRANSITION_EVENT: Record<Transition, { suffix: string; action: string }> = {
  activate: { suffix: "ACTIVATED", action: "ACTIVATE" },
  deactivate: { suffix: "DEACTIVATED", action: "DEACTIVATE" },
  draft: { suffix: "DRAFTED", action: "DRAFT" },
  delete: { suffix: "DELETED", action: "DELETE" },
};

/** Timestamps a transition sets: activate clears deactivatedAt; deletedAt is set iff DELETED. */
export function transitionTimestamps(to: Status, now: Date) {
  switch (to) {
    case "ACTIVE":
      return { activatedAt: now, deactivatedAt: null };
    case "INACTIVE":
      return { deactivatedAt: now };
    case "DELETED":
      return { deletedAt: now };
    default:
      return {};
  }
}
