/**
 * Errors the toolchain reports to users: a stable code (for scripts and docs) and a sentence that says
 * what to do. Core code throws these; only the CLI entry turns them into an exit status.
 */
export type ErrorCode =
  | "E_USAGE"          // wrong command-line usage
  | "E_NOT_FOUND"      // a file, folder or binary that is needed does not exist
  | "E_BUILD"          // the AssemblyScript compiler failed
  | "E_ABI"            // the module would not load in Envoy (imports/exports)
  | "E_CONFIG"         // a filter or CLI configuration is invalid
  | "E_ENVOY"          // Envoy failed to start or answered unexpectedly
  | "E_TEST"           // tests failed
  | "E_REGISTRY"       // an OCI registry refused an operation
  | "E_IO"             // the file system refused a read or write (permissions, a missing folder, a full disk)
  | "E_VALIDATION";    // a rendered resource does not match its schema

export class PwasError extends Error {
  constructor(public readonly code: ErrorCode, message: string) {
    super(message);
    this.name = "PwasError";
  }
}
