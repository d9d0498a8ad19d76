import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { descendants, isAlive } from '@vlab/test-peers';
import { run } from './exec.js';
import { removeStaleVmNetworks, VM_NET, VM_ROUTE_PROTO } from './vm-net.js';

/** libvirt's system instance, which the daemons below serve. */
export const LIBVIRT_URI = 'qemu:///system';

const LIBVIRTD_PID = '/run/libvirtd.pid';
const VIRTLOGD_PID = '/run/virtlogd.pid';
const DEFAULT_NETWORK_AUTOSTART = '/etc/libvirt/qemu/networks/autostart/default.xml';

/**
 * The reaper (perl, which Debian always has): makes itself a child subreaper (prctl
 * PR_SET_CHILD_SUBREAPER, syscall 157 on x86-64), starts `virtlogd -d` and then `libvirtd -d`
 * (each returns once its daemon is set up), prints `ready`, and then reaps every child it gets,
 * until a signal. Without it, the daemonized daemons and the QEMUs libvirt daemonizes would be
 * reparented to this machine's PID 1, which reaps only now and then: ended QEMUs would linger as
 * zombies. When its parent (the test process) dies without stopping it, or when it gets SIGTERM,
 * SIGINT or SIGHUP with anything still below it (a `timeout` or a Ctrl-C that signals the whole
 * process group: the daemons run in sessions of their own and get nothing), it tears down what
 * `close()` would have: the domains named `vlab-…` (a libvirtd started on an administrator's
 * configuration loads theirs too: those are never touched), the network named in its arguments
 * (`network bridge blackhole proto dir`: argv, never pasted into the script) and its status file,
 * the daemons and whatever else is left below it, the bridge, the blackhole route and the
 * directory; then it ends. `stop()` leaves nothing below it before it sends SIGTERM, so an orderly
 * stop tears nothing down twice.
 */
const REAPER = `
use strict;
use POSIX ":sys_wait_h";
$| = 1;
my ($network, $bridge, $blackhole, $proto, $dir) = @ARGV;
my $parent = getppid();
# Once the test process is gone, writing to its pipes must not end this process.
$SIG{PIPE} = "IGNORE";
syscall(157, 36, 1, 0, 0, 0) == 0 or die "prctl(PR_SET_CHILD_SUBREAPER): $!\\n";
my $stop = 0;
$SIG{$_} = sub { $stop = 1 } for qw(TERM INT HUP);
for my $daemon (["virtlogd", "-d"], ["libvirtd", "-d"]) {
  last if $stop;
  system(@$daemon) == 0 or die "@$daemon failed: exit " . ($? >> 8) . "\\n";
}
print "ready\\n" unless $stop;
until ($stop) {
  1 while waitpid(-1, WNOHANG) > 0;
  last if getppid() != $parent;
  select(undef, undef, undef, 0.2);
}
1 while waitpid(-1, WNOHANG) > 0;
orphaned() if getppid() != $parent || children();

sub virsh {
  my @out;
  if (open(my $h, "-|", "virsh", "-c", "qemu:///system", @_)) { @out = <$h>; close $h; }
  return @out;
}
# Live children of this process (zombies are reaped, not signalled).
sub children {
  my @pids;
  opendir(my $d, "/proc") or return ();
  for my $pid (grep { /^\\d+$/ } readdir $d) {
    open(my $f, "<", "/proc/$pid/stat") or next;
    my $stat = <$f>;
    close $f;
    next unless defined $stat;
    $stat =~ s/^.*\\) //s;
    my @fields = split / /, $stat;
    push @pids, $pid if $fields[1] == $$ && $fields[0] ne "Z";
  }
  return @pids;
}
sub settle {
  my ($tenths) = @_;
  for (1 .. $tenths) {
    1 while waitpid(-1, WNOHANG) > 0;
    return unless children();
    select(undef, undef, undef, 0.1);
  }
}
sub daemons {
  my @pids;
  for my $file ("/run/libvirtd.pid", "/run/virtlogd.pid") {
    open(my $f, "<", $file) or next;
    my $pid = <$f>;
    close $f;
    push @pids, $1 if defined $pid && $pid =~ /^(\\d+)/;
  }
  return @pids;
}
sub orphaned {
  # From here on every child is reaped the moment it ends, also while this process waits for
  # virsh: libvirtd waits for a QEMU it saw die to vanish, and a zombie never does (undefine hung).
  $SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };
  # QEMUs first, killed here: "virsh destroy" would wait for a QEMU that only this process can
  # reap while it waits for virsh.
  my %daemon = map { $_ => 1 } daemons();
  kill "KILL", grep { !$daemon{$_} } children();
  for (1 .. 50) {
    1 while waitpid(-1, WNOHANG) > 0;
    last unless grep { !$daemon{$_} } children();
    select(undef, undef, undef, 0.1);
  }
  for my $name (virsh("list", "--all", "--name")) {
    $name =~ s/\\s+$//;
    virsh("undefine", $name) if $name =~ /^vlab-/;
  }
  virsh("net-destroy", $network);
  kill "TERM", grep { $daemon{$_} } children();
  settle(150);
  kill "KILL", children();
  settle(50);
  system("ip", "link", "del", $bridge) if -e "/sys/class/net/$bridge";
  system("ip", "route", "del", "blackhole", $blackhole, "proto", $proto);
  # A status file of a network whose bridge is gone makes the next libvirtd crash at start.
  unlink("/run/libvirt/network/$network.xml");
  system("rm", "-rf", "--", "/run/libvirt/network/$network");
  system("rm", "-rf", "--", $dir);
}
`;

/** What the reaper removes should the test process die without `stop()`. */
export interface OrphanTeardown {
  /** The libvirt network (`net-destroy`) and its bridge (`ip link del`). */
  readonly network: string;
  readonly bridge: string;
  /** The harness's directory (`rm -rf`). */
  readonly dir: string;
}

/** libvirt's daemons, started by {@link startLibvirtDaemons}. */
export interface LibvirtDaemons {
  /** The reaper's pid: the daemons and the QEMUs are its descendants. */
  readonly reaperPid: number;
  /** Stops libvirtd, virtlogd and whatever is left below the reaper, then the reaper. */
  stop(): Promise<void>;
}

function pidFrom(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/**
 * Starts libvirt's system instance as this process's own: no systemd runs as PID 1 here, and
 * Debian 12 ships the monolithic `libvirtd` (no `virtqemud`). Refuses when a libvirtd runs
 * already (it is someone else's: stopping it would break them); otherwise first removes what a
 * killed harness left of its network ({@link removeStaleVmNetworks}). Resolves once `virsh`
 * answers.
 */
export async function startLibvirtDaemons(options: {
  readonly orphanTeardown: OrphanTeardown;
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}): Promise<LibvirtDaemons> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const { network, bridge, dir } = options.orphanTeardown;
  const running = pidFrom(LIBVIRTD_PID) ?? pidFrom(VIRTLOGD_PID);
  if (running !== undefined) {
    throw new Error(
      `a libvirt daemon runs already (pid ${running}, see ${LIBVIRTD_PID} / ${VIRTLOGD_PID}): ` +
        'the harness starts and stops its own and will not share one',
    );
  }
  const stale = await removeStaleVmNetworks();
  if (stale.length > 0) options.log?.(`removed what a killed harness left: ${stale.join(', ')}`);
  // libvirt's `default` network NATs to the outside and turns IP forwarding on: it must never
  // start, so an autostart link for it (Debian 12's packages made none here) goes first.
  await rm(DEFAULT_NETWORK_AUTOSTART, { force: true });
  // libvirt keeps each network's MAC list there even with DHCP and DNS off; the directory comes
  // with dnsmasq-base, a recommendation that --no-install-recommends leaves out.
  await mkdir('/var/lib/libvirt/dnsmasq', { recursive: true, mode: 0o755 });
  const reaper = spawn(
    'perl',
    ['-e', REAPER, '--', network, bridge, VM_NET.blackhole, VM_ROUTE_PROTO, dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const reaperPid = reaper.pid;
  if (reaperPid === undefined) throw new Error('perl (the reaper) could not be started');
  const exited = new Promise<void>((resolve) => reaper.once('exit', () => resolve()));
  let stderr = '';
  reaper.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  const daemons: LibvirtDaemons = { reaperPid, stop: () => stopDaemons(reaper, exited) };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`libvirt's daemons did not start within ${timeoutMs} ms`)),
        timeoutMs,
      );
      reaper.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`libvirt's daemons did not start: ${stderr.trim() || 'reaper ended'}`));
      });
    });
    // libvirtd -d returns once its sockets listen; its drivers may still be starting.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const out = await run('virsh', ['-c', LIBVIRT_URI, 'version'], { timeoutMs: 30_000 });
      if (out.code === 0) break;
      if (Date.now() > deadline) {
        throw new Error(`virsh -c ${LIBVIRT_URI} does not answer: ${out.stderr.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return daemons;
  } catch (error) {
    await daemons.stop();
    throw error;
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/** Sends `sig` to `pid`; one that has ended meanwhile is no error. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function stopDaemons(reaper: ChildProcess, exited: Promise<void>): Promise<void> {
  const pid = reaper.pid;
  if (pid === undefined) return;
  // libvirtd first (it may still talk to virtlogd), then virtlogd, then anything left (QEMUs).
  for (const file of [LIBVIRTD_PID, VIRTLOGD_PID]) {
    const daemon = pidFrom(file);
    if (daemon === undefined || !descendants(pid).includes(daemon)) continue;
    signal(daemon, 'SIGTERM');
    if (!(await waitGone([daemon], 15_000))) signal(daemon, 'SIGKILL');
    await waitGone([daemon], 5_000);
  }
  const left = descendants(pid);
  for (const child of left) signal(child, 'SIGKILL');
  // Until the reaper has reaped them all (zombies count): a zombie still below it when it ends
  // would be handed to PID 1, which reaps only now and then here.
  const deadline = Date.now() + 10_000;
  while (descendants(pid).length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (reaper.exitCode === null && reaper.signalCode === null) reaper.kill('SIGTERM');
  await exited;
}
