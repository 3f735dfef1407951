/**
 * The import's maps, which all read OUR name = THEIR name: the field map (our field = their column) and
 * the event-type map (our event type = their event type). Checked against what the export holds, so a
 * pair written the other way round, or naming something the export does not have, stops the import
 * with the corrected pair rather than failing later in training.
 */
import { type EventTypeMapping, type FieldMap, ImportError, MAPPABLE_FIELDS } from './import-types.js';

/** Distinct event types counted (for the map check and the summary); more only add to the total. */
const MAX_COUNTED_TYPES = 10_000;

export function countType(counts: Map<string, number>, type: string): void {
  const n = counts.get(type);
  if (n !== undefined) counts.set(type, n + 1);
  else if (counts.size < MAX_COUNTED_TYPES) counts.set(type, 1);
}

function describeTypes(counts: Map<string, number>, max = 12): string {
  const list = [...counts].sort((a, b) => b[1] - a[1]);
  const shown = list.slice(0, max).map(([t, n]) => `${t} (${n})`);
  return list.length === 0 ? 'none' : `${shown.join(', ')}${list.length > max ? ', …' : ''}`;
}

/** THEIR type → OUR type; a type of theirs mapped twice, or an empty name, is an error. */
export function theirsToOurs(mappings: readonly EventTypeMapping[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { ours, theirs } of mappings) {
    if (ours === '' || theirs === '') {
      throw new ImportError('the event-type map has an empty event type (write ours=theirs)', [
        'eventTypeMap',
      ]);
    }
    const before = out.get(theirs);
    if (before !== undefined && before !== ours) {
      throw new ImportError(
        `the event-type map sends their ${JSON.stringify(theirs)} to both ${JSON.stringify(before)} and ${JSON.stringify(ours)} (it reads ours=theirs)`,
        ['eventTypeMap'],
      );
    }
    out.set(theirs, ours);
  }
  return out;
}

/**
 * Each mapping's THEIR type must occur in the export. When it does not but OUR side does, the map was
 * written the other way round: say so and give the corrected pair.
 */
export function checkEventTypeMap(mappings: readonly EventTypeMapping[], seen: Map<string, number>): void {
  for (const { ours, theirs } of mappings) {
    if (seen.has(theirs)) continue;
    if (seen.has(ours)) {
      throw new ImportError(
        `the event-type map reads ours=theirs, like the field map: the export has ${JSON.stringify(ours)} events but no ${JSON.stringify(theirs)}, so ${ours}=${theirs} looks reversed; write ${theirs}=${ours}`,
        ['eventTypeMap'],
      );
    }
    throw new ImportError(
      `the event-type map renames their ${JSON.stringify(theirs)} to ${JSON.stringify(ours)}, but the export has no ${JSON.stringify(theirs)} events (event types seen: ${describeTypes(seen)}); the map reads ours=theirs`,
      ['eventTypeMap'],
    );
  }
}

/** Field map keys must be our fields (the left side): a reversed pair names the fix. */
export function checkFieldMap(map: FieldMap): void {
  for (const key of Object.keys(map)) {
    if ((MAPPABLE_FIELDS as readonly string[]).includes(key)) continue;
    const reversed = Object.entries(map).find(([, theirs]) => theirs === key);
    throw new ImportError(
      `the field map reads ours=theirs: ${JSON.stringify(key)} is not one of our fields (${MAPPABLE_FIELDS.join(', ')})${reversed ? '' : `; if it is their column, write <our field>=${key}`}`,
      ['map'],
    );
  }
}
