/**
 * sha256 of a text, hex. Kept out of src/core (the workflow-safe contract) because it needs
 * node:crypto; the compiler, schedules and activities hash canonical JSON with it.
 */
import { createHash } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
