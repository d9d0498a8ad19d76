/**
 * Real protocol peers for vlab's tests, started by the tests themselves on loopback.
 * Private: consumed as TypeScript source by vitest, never built or published.
 */
export { freePort, freeUdpPort } from './free-port.js';
export { type IpmiSim, type IpmiSimOptions, type IpmiSimUser, startIpmiSim } from './ipmi-sim.js';
export { descendants, isAlive, liveProcessesOf, signalAll } from './process-tree.js';
export { type RunOptions, type RunOutput, run, runChecked } from './run.js';
export {
  type KeyPair,
  type KeyType,
  type Sshd,
  type SshdOptions,
  startSshd,
} from './sshd.js';
export {
  clearTestPassword,
  DEFAULT_TEST_USER,
  ensureTestAccount,
  setTestPassword,
  type TestAccount,
} from './test-account.js';
export { POWERSHELL_HOSTILE_VALUES } from './windows/hostile-values.js';
export { WindowsMachine } from './windows/model/windows-machine.js';
export {
  assertOnlyLiteral,
  listParseProblems,
  literalOccurrences,
  parsePowerShell,
} from './windows/powershell-grammar.js';
export {
  type CommandStart,
  type ExecRecord,
  startWindowsPeer,
  type WindowsPeer,
  type WindowsPeerOptions,
} from './windows/windows-peer.js';
