/** Why a pattern was rejected. */
export enum RegexErrorCode {
  /** Not a valid pattern in RE2 syntax (unbalanced parentheses, bad range, bad escape, ...). */
  Syntax = 1,
  /** Valid RE2 or Perl syntax that this engine deliberately does not implement (backreferences, lookaround, ...). */
  Unsupported = 2,
  /** Valid, but over a size limit (repetition count, nesting depth or program size). */
  TooLarge = 3,
}

/** A rejected pattern: `message` names the problem and ends with ` at <index>` (0-based, in UTF-16 code units). */
export class RegexError {
  constructor(
    readonly code: RegexErrorCode,
    readonly position: i32,
    readonly message: string,
  ) {}
}
