import { LogLevel } from "./abi";

export interface LogEntry {
  level: LogLevel;
  message: string;
  /** Context the call acted on (after proxy_set_effective_context), 0 for the VM context. */
  contextId: number;
}
