/**
 * `pnpm lab up [--computers N] [--suite bookworm|trixie]`, `pnpm lab status [--json]`,
 * `pnpm lab down [<lab id> | --all]`: the lab on this machine, from the shell.
 */
import { parseArgs } from 'node:util';
import { ensureBaseImage, type Suite } from './image.js';
import { cleanStaleLabs, downLab, Lab, listLabs, startLab } from './lab.js';
import { preflight, vmPreflight } from './preflight.js';
import { ensureVmImage } from './vm-image.js';

const USAGE = `usage:
  pnpm lab up [--computers N] [--clients N] [--suite bookworm|trixie]
  pnpm lab status [--json]
  pnpm lab down [<lab id> | --all]     (default: every lab made by "lab up" and every stale lab)
  pnpm lab image [--suite bookworm|trixie] [--vm]   (build the cached base image, or VM image, now)`;

function log(line: string): void {
  process.stderr.write(`lab: ${line}\n`);
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '-' : `${Math.round(bytes / 2 ** 20)} MiB`;
}

async function up(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      computers: { type: 'string', default: '1' },
      clients: { type: 'string', default: '2' },
      suite: { type: 'string', default: 'bookworm' },
    },
  });
  const started = performance.now();
  const lab = await startLab({
    computers: Number(values.computers),
    clients: Number(values.clients),
    suite: values.suite as Suite,
    persistent: true,
    log,
  });
  log(`lab ${lab.id} up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  printLab(lab);
}

function printLab(lab: Lab): void {
  console.log(
    `lab ${lab.id}  network ${lab.subnet} (this host: ${lab.hostAddress})  dir ${lab.dir}`,
  );
  for (const c of lab.computers) {
    console.log(`  ${c.name}  ${c.ip}`);
    console.log(`    ssh ${c.sshArgs().join(' ')}`);
    console.log(
      `    ipmitool -I lanplus -C 3 -H ${c.bmc.host} -p ${c.bmc.port} -U ${c.bmc.user} -f ${c.dir}/bmc/password power status`,
    );
  }
  for (const client of lab.clients) {
    console.log(`  ${client.name}  ${client.ip}  (ip netns exec ${client.netns} …)`);
  }
}

async function status(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  const records = await listLabs();
  const all = [];
  for (const record of records) {
    const lab = new Lab(record);
    const computers = await lab.status();
    all.push({ id: lab.id, subnet: lab.subnet, owner: record.owner, computers });
    if (values.json) continue;
    const owner = record.owner === null ? 'until "lab down"' : `process ${record.owner.pid}`;
    console.log(`lab ${lab.id}  network ${lab.subnet}  owner ${owner}  dir ${lab.dir}`);
    for (const c of computers) {
      const running = c.booted === undefined ? '' : ` running ${c.booted}`;
      console.log(
        `  ${c.name.padEnd(6)} power ${c.power.padEnd(7)} next boot ${c.nextBootDevice.padEnd(4)}${running.padEnd(15)} ` +
          `ip ${c.ip.padEnd(14)} ssh ${c.sshAnswering ? 'answering' : 'no'}  mem ${mib(c.memoryBytes)}  ` +
          `bmc ${c.bmc}  image ${c.imageStamp ?? '-'}`,
      );
    }
  }
  if (values.json) console.log(JSON.stringify(all, null, 2));
  else if (records.length === 0) console.log('no labs');
}

async function down(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { all: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  await preflight();
  if (positionals.length > 0) {
    for (const id of positionals) await downLab(id, log);
    return;
  }
  const removed = await cleanStaleLabs(log);
  for (const record of await listLabs()) {
    if (values.all || record.owner === null) {
      await downLab(record.id, log);
      removed.push(record.id);
    }
  }
  log(removed.length === 0 ? 'no labs to remove' : `removed ${removed.join(', ')}`);
}

async function image(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { suite: { type: 'string', default: 'bookworm' }, vm: { type: 'boolean' } },
  });
  if (values.vm === true) await vmPreflight();
  else await preflight();
  const options = { suite: values.suite as Suite, log };
  const built = values.vm === true ? await ensureVmImage(options) : await ensureBaseImage(options);
  console.log(
    `${built.path}: ${built.cached ? 'cached' : 'built'} (build took ${(built.buildMs / 1000).toFixed(1)} s, this call ${(built.tookMs / 1000).toFixed(1)} s)`,
  );
}

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (args: string[]) => Promise<void>> = { up, status, down, image };
const handler = command === undefined ? undefined : commands[command];
if (handler === undefined) {
  console.error(USAGE);
  process.exit(2);
}
try {
  await handler(rest);
} catch (error) {
  console.error(`lab ${command}: ${(error as Error).message}`);
  process.exit(1);
}
