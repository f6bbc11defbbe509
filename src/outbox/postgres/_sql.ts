// What the outbox and the inbox on PostgreSQL share: names checked before
// they go into SQL, and telling a transaction from the connection.

// Unquoted-identifier characters only, within PostgreSQL's 63 bytes: the
// name is quoted anyway, so this keeps it readable in psql and in errors.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * `value`, checked to be a plain identifier, double-quoted; throws naming
 * `option` and the value otherwise.
 */
export function quotedIdentifier(
  factory: string,
  option: string,
  value: unknown,
): string {
  if (typeof value !== "string") {
    throw new TypeError(
      `Cannot ${factory}() as '${option}' must be a string: current value is ${
        value === null ? "null" : typeof value
      }`,
    );
  }
  if (!IDENTIFIER.test(value)) {
    throw new RangeError(
      `Cannot ${factory}() as '${option}' must be a plain identifier (a letter or _, then letters, digits or _, at most 63): current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return `"${value}"`;
}

/**
 * Why `tx` is not the transaction of `sql.begin(async (tx) => ...)`, or
 * `undefined`. postgres.js gives a transaction `savepoint` and the
 * connection `begin`, which is all that tells them apart.
 */
export function transactionProblem(tx: unknown): string | undefined {
  if (typeof tx === "function") {
    const candidate = tx as { savepoint?: unknown; begin?: unknown };
    if (typeof candidate.savepoint === "function") return undefined;
    if (typeof candidate.begin === "function") {
      return "its first argument is the connection, not a transaction: call it inside sql.begin(async (tx) => ...) with tx";
    }
  }
  return `its first argument must be the transaction of sql.begin(async (tx) => ...), not ${
    tx === null ? "null" : typeof tx
  }`;
}

/** The options object a factory was given, checked. */
export function optionsObject<T extends object>(
  factory: string,
  options: T | undefined,
): T {
  if (options === undefined) return {} as T;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot ${factory}() as its options must be an object`);
  }
  return options;
}

/** `sql`, checked to be a postgres.js connection (it has `begin`). */
export function checkSql(factory: string, sql: unknown): void {
  if (
    typeof sql !== "function" ||
    typeof (sql as { begin?: unknown }).begin !== "function"
  ) {
    throw new TypeError(
      `Cannot ${factory}() as its first argument must be a postgres.js connection (postgres(url)): current value is ${
        sql === null ? "null" : typeof sql
      }`,
    );
  }
}
