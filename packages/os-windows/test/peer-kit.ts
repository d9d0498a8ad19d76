// What the tests take from @vlab/ssh and @vlab/test-peers, in one place.
export {
  encodePowerShellCommand,
  MAX_POWERSHELL_COMMAND_LINE,
  MemoryHostKeyStore,
  powerShellScript,
  SshCommunicator,
  SshPool,
} from '@vlab/ssh';
export {
  assertOnlyLiteral,
  listParseProblems,
  POWERSHELL_HOSTILE_VALUES,
  startWindowsPeer,
  WindowsMachine,
  type WindowsPeer,
  type WindowsPeerOptions,
} from '@vlab/test-peers';
