/**
 * A child process for `pnpm bench`: serves N instances of the package's own BMC core
 * (test/test-bmc.fixture.ts, the BMC side of the sans-IO protocol) on 127.0.0.1, each on its own
 * UDP port. They answer Get Chassis Status and Chassis Control from memory, so the bench shows
 * what the client costs rather than a simulator's power hook. A separate process, as ipmi_sim
 * is: the BMCs' crypto must not run on the measured client's thread.
 *
 *   node --import tsx bench/bmc-server.ts <count>   (user and password in VLAB_BENCH_BMC_USER)
 *
 * Prints one JSON line, {"ports":[…]}, once every BMC listens; stops when stdin closes.
 */
import { startTestBmc, type TestBmc } from '../test/test-bmc.fixture.js';

const count = Number(process.argv[2] ?? 50);
const user = JSON.parse(process.env['VLAB_BENCH_BMC_USER'] ?? '{}') as {
  name?: string;
  password?: string;
};
if (!Number.isInteger(count) || count < 1 || !user.name || !user.password) {
  console.error('usage: VLAB_BENCH_BMC_USER=\'{"name":…,"password":…}\' bmc-server.ts <count>');
  process.exit(2);
}

const bmcs: TestBmc[] = [];
for (let i = 0; i < count; i += 1) {
  const bmc = await startTestBmc({
    users: [{ name: user.name, password: user.password }],
    cipherSuites: [3, 17],
  });
  bmc.endpoint.chassis.powerOn = true;
  bmcs.push(bmc);
}
process.stdout.write(`${JSON.stringify({ ports: bmcs.map((b) => b.port) })}\n`);

const stop = async (): Promise<void> => {
  await Promise.all(bmcs.map((b) => b.close()));
  process.exit(0);
};
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.on('SIGTERM', () => void stop());
process.stdin.resume();
