// The one place that knows the on-disk form of a record. A JSONL line keeps
// the documented field names, in this order:
//
//   {"ts", "type" (the kind), "class" (the message name), "payload",
//    "duration_ns", "result", "error"}
//
// while a record in memory says `kind`, `type` and `durationMs`.
import type { MessageKind } from "../core/messages.ts";
import type { SerializedError } from "../core/types.ts";
import {
  errorJson,
  stringify,
  toJsonFields,
  toJsonValue,
} from "../core/_json.ts";
import type { DispatchRecord } from "./recorder.ts";

// JSON.stringify has a fixed cost per call, so a record line calls it as
// little as it can: names repeat and are quoted once, timestamps in the
// recorder's own format need no escaping, numbers and null are written
// directly.
const quotedNames = new Map<string, string>();
const MAX_QUOTED_NAMES = 10_000;
const SAFE_TIMESTAMP = /^[0-9TZ:.-]*$/;

/**
 * Marks a record whose `ts` the recorder formatted itself, so its line need
 * not check it (checking a fresh string makes V8 flatten it first, which
 * costs more than the rest of the line). Records from elsewhere are checked
 * and escaped when needed.
 */
export const TRUSTED_TS: unique symbol = Symbol("trusted ts");

/**
 * The value a failed dispatch threw, on a record from the recorder: a store
 * with `redact` encodes the error from it, so that redaction reaches inside
 * its cause as it was (a Map, say) rather than its JSON form.
 */
export const THROWN: unique symbol = Symbol("thrown");

/** A record as the recorder hands it over. */
export type RecorderRecord = DispatchRecord & {
  readonly [TRUSTED_TS]?: true;
  readonly [THROWN]?: unknown;
};

function quoteName(name: string): string {
  let quoted = quotedNames.get(name);
  if (quoted === undefined) {
    quoted = JSON.stringify(String(name));
    if (quotedNames.size < MAX_QUOTED_NAMES) quotedNames.set(name, quoted);
  }
  return quoted;
}

function scalarOrStringify(
  value: unknown,
  redact: ReadonlySet<string> | undefined,
): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") {
    return Number.isFinite(value) ? String(value) : "null";
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  return stringify(value, redact);
}

// The record's error with `redact` applied inside its cause and inner
// errors, never to the names and messages of the errors themselves.
function redactedError(
  record: RecorderRecord,
  redact: ReadonlySet<string>,
): unknown {
  const thrown = record[THROWN];
  if (thrown !== undefined) return errorJson(thrown, redact);
  return redactErrorJson(record.error, redact);
}

// A record from elsewhere holds its error in its JSON form already: an
// object with a string name and message is taken for an error.
function redactErrorJson(
  value: unknown,
  redact: ReadonlySet<string>,
): unknown {
  try {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const { name, message, errors, cause, ...rest } = value as Record<
        string,
        unknown
      >;
      if (typeof name === "string" && typeof message === "string") {
        const result: Record<string, unknown> = { name, message };
        if (errors !== undefined) {
          result.errors = Array.isArray(errors)
            ? errors.map((inner) => redactErrorJson(inner, redact))
            : toJsonValue(errors, redact);
        }
        if (cause !== undefined) result.cause = redactErrorJson(cause, redact);
        return Object.assign(result, toJsonValue(rest, redact));
      }
    }
  } catch {
    // Not data after all: the general form below.
  }
  return toJsonValue(value, redact);
}

/**
 * One record as a JSON line (without the newline), in the on-disk form:
 * what `JSON.stringify` of that form gives, in under half the time.
 */
export function encodeRecord(
  record: RecorderRecord,
  redact?: ReadonlySet<string>,
): string {
  const ts = record[TRUSTED_TS] === true ||
      (typeof record.ts === "string" && SAFE_TIMESTAMP.test(record.ts))
    ? `"${record.ts}"`
    : JSON.stringify(String(record.ts));
  const durationNs = Math.round(record.durationMs * 1e6);
  return `{"ts":${ts},"type":${quoteName(record.kind)},"class":${
    quoteName(record.type)
  },"payload":${scalarOrStringify(record.payload, redact)},"duration_ns":${
    Number.isFinite(durationNs) ? durationNs : "null"
  },"result":${scalarOrStringify(record.result, redact)},"error":${
    record.error === null || redact === undefined
      ? scalarOrStringify(record.error, undefined)
      : stringify(redactedError(record, redact))
  }${identity(record)}}`;
}

// The dispatch's identity, when the record has one: `id`, `correlation_id`,
// `causation_id` and `origin`, after the format's original fields.
// Ids and module names the bus gives are plain (it refuses quotes,
// backslashes and control characters in them), so a record from the
// recorder has them written as they are; a record from elsewhere is escaped.
function identity(record: RecorderRecord): string {
  const { id, correlationId, causationId, origin } = record;
  if (id === undefined) return "";
  const quote = record[TRUSTED_TS] === true ? plain : escaped;
  const quotedId = quote(id);
  return `,"id":${quotedId},"correlation_id":${
    correlationId === undefined || correlationId === id
      ? quotedId
      : quote(correlationId)
  }${causationId === undefined ? "" : `,"causation_id":${quote(causationId)}`}${
    origin === undefined ? "" : `,"origin":${quote(origin)}`
  }`;
}

function plain(text: string): string {
  return `"${text}"`;
}

function escaped(text: string): string {
  return JSON.stringify(String(text));
}

/**
 * One record in its JSON form, as a memory store keeps it: the form a line
 * decodes to, with `redact` applied as {@linkcode encodeRecord} applies it.
 */
export function recordJson(
  record: RecorderRecord,
  redact?: ReadonlySet<string>,
): DispatchRecord {
  if (redact === undefined) return toJsonValue(record) as DispatchRecord;
  const json = toJsonFields({
    ts: record.ts,
    kind: record.kind,
    type: record.type,
    payload: record.payload,
    durationMs: record.durationMs,
    result: record.result,
  }, redact);
  json.error = record.error === null ? null : redactedError(record, redact);
  for (const key of ["id", "correlationId", "causationId", "origin"] as const) {
    if (record[key] !== undefined) json[key] = record[key];
  }
  return json as unknown as DispatchRecord;
}

/** What a line of a recording holds. */
interface Line {
  readonly ts: string;
  readonly type: MessageKind;
  readonly class: string;
  readonly payload?: unknown;
  readonly duration_ns: number | null;
  readonly result?: unknown;
  readonly error?: SerializedError | null;
  readonly id?: unknown;
  readonly correlation_id?: unknown;
  readonly causation_id?: unknown;
  readonly origin?: unknown;
}

/**
 * A record from one parsed line, or `undefined` when the line is JSON but
 * not a record (then it is reported like a broken line).
 */
export function decodeRecord(value: unknown): DispatchRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const line = value as Line;
  if (typeof line.type !== "string" || typeof line.class !== "string") {
    return undefined;
  }
  return {
    ts: String(line.ts),
    kind: line.type,
    type: line.class,
    payload: line.payload ?? null,
    durationMs: typeof line.duration_ns === "number"
      ? line.duration_ns / 1e6
      : 0,
    result: line.result ?? null,
    error: line.error ?? null,
    ...(typeof line.id === "string" ? { id: line.id } : {}),
    ...(typeof line.correlation_id === "string"
      ? { correlationId: line.correlation_id }
      : {}),
    ...(typeof line.causation_id === "string"
      ? { causationId: line.causation_id }
      : {}),
    ...(typeof line.origin === "string" ? { origin: line.origin } : {}),
  };
}
