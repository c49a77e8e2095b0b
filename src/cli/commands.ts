// Every pwas command, in one place. Each lives in its own module under commands/ and calls core functions.
import type { Command } from "./command";
import { create } from "./commands/new";
import { build } from "./commands/build";
import { test } from "./commands/test";
import { run } from "./commands/run";
import { packageCommand } from "./commands/package";
import { push } from "./commands/push";
import { pull } from "./commands/pull";
import { deploy } from "./commands/deploy";
import { preview } from "./commands/preview";
import { envoy } from "./commands/envoy";

export const commands: Command[] = [create, build, test, run, packageCommand, push, pull, deploy, preview, envoy];
