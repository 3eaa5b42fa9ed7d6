/**
 * What operators have told the run and the stage runner has not yet acted on: approvals at gates,
 * and retry/skip decisions for stages that wait. Written by the handlers (handlers.ts), read by
 * the stage runner inside its `condition()`s; plain data, so it issues no commands.
 */
import type { RetryRequest } from './api.ts';

export type Decision = { action: 'retry'; req: RetryRequest } | { action: 'skip' };

export class OperatorInbox {
  private readonly approvals = new Set<string>();
  private readonly decisions = new Map<string, Decision>();

  approve(stage: string): void {
    this.approvals.add(stage);
  }

  decide(stage: string, decision: Decision): void {
    this.decisions.set(stage, decision);
  }

  isApproved(stage: string): boolean {
    return this.approvals.has(stage);
  }

  hasDecision(stage: string): boolean {
    return this.decisions.has(stage);
  }

  /** Takes the stage's decision if it is a skip; a retry stays for the stage to take later. */
  takeSkip(stage: string): boolean {
    if (this.decisions.get(stage)?.action !== 'skip') return false;
    this.decisions.delete(stage);
    return true;
  }

  /** Takes the stage's decision (call once hasDecision is true). */
  take(stage: string): Decision {
    const d = this.decisions.get(stage)!;
    this.decisions.delete(stage);
    return d;
  }
}
