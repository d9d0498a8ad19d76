import { Command, CommanderError, Option } from 'commander';
import { ApiClient, apiPath } from './api-client.js';
import { clientSettings } from './cli-settings.js';
import { connectLine } from './connect-line.js';
import { minutesOf } from './durations.js';
import { CliError, EXIT } from './exit-codes.js';
import { DEFAULT_LISTEN, serve } from './serve.js';
import { waitForRevision } from './wait-for-revision.js';
import { watch } from './watch.js';

/*
 * `vlab`: runs a manager (`vlab serve`) or talks to one over its HTTP API. Every verb takes
 * --json (its answer as JSON on stdout) and exits with a code of EXIT (exit-codes.ts).
 */

interface Globals {
  readonly server?: string;
  readonly token?: string;
  readonly json?: boolean;
}

interface Reservation {
  readonly id: string;
  readonly image: string;
  readonly revision: number;
  readonly computer: string | null;
  readonly logins: string[];
  readonly state: string;
  readonly endsAt: string;
}

const out = (text: string) => process.stdout.write(text);

function table(rows: readonly (readonly (string | number | null | undefined)[])[]): void {
  const cells = rows.map((row) =>
    row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))),
  );
  const widths =
    cells[0]?.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0))) ?? [];
  for (const row of cells)
    out(
      `${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    );
}

async function client(command: Command): Promise<{ api: ApiClient; json: boolean }> {
  const globals = command.optsWithGlobals<Globals>();
  return {
    api: new ApiClient(await clientSettings(globals, process.env)),
    json: globals.json === true,
  };
}

/** Declares a verb whose action gets the API client; its answer is printed by `show` or as JSON. */
function verb<A extends unknown[]>(
  program: Command,
  spec: string,
  description: string,
  action: (
    api: ApiClient,
    args: A,
    options: Record<string, unknown>,
    json: boolean,
  ) => Promise<number | undefined>,
): Command {
  const command = program.command(spec).description(description);
  command.action(async (...received: unknown[]) => {
    const self = received.at(-1) as Command;
    const options = received.at(-2) as Record<string, unknown>;
    const args = received.slice(0, -2) as A;
    const { api, json } = await client(self);
    const code = await action(api, args, options, json);
    if (typeof code === 'number') process.exitCode = code;
  });
  return command;
}

function printJson(value: unknown): undefined {
  out(`${JSON.stringify(value, null, 2)}\n`);
}

function reservationRows(items: readonly Reservation[]): void {
  table([
    ['ID', 'IMAGE', 'REV', 'COMPUTER', 'STATE', 'USERS', 'ENDS'],
    ...items.map((r) => [
      r.id,
      r.image,
      r.revision,
      r.computer,
      r.state,
      r.logins.join(','),
      r.endsAt,
    ]),
  ]);
}

export function vlabProgram(): Command {
  const program = new Command('vlab')
    .description('Runs a vlab manager, or uses one through its HTTP API.')
    .option(
      '--server <url>',
      'the manager (default: VLAB_SERVER, the configuration file, http://127.0.0.1:8080)',
    )
    .option('--token <token>', 'your API token (default: VLAB_TOKEN, the configuration file)')
    .option('--json', 'print the answer as JSON')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('serve')
    .description('runs a manager and its HTTP API until interrupted')
    .requiredOption('--config <file>', "the manager's configuration file (YAML)")
    .option('--listen <host:port>', 'where the HTTP API listens', DEFAULT_LISTEN)
    .action(async (options: { config: string; listen: string }) => {
      await serve(options, (line) => out(`${line}\n`));
    });

  verb(program, 'me', 'who your token acts for', async (api, _args, _o, json) => {
    const me = await api.call<{ login: string; role: string }>('GET', '/me');
    if (json) printJson(me);
    else out(`${me.login} (${me.role})\n`);
  });

  verb(program, 'computers', "the lab's computers", async (api, _args, _o, json) => {
    const { items } = await api.call<{
      items: {
        name: string;
        state: string;
        power: { state: string };
        loaded: { image: string; revision: number } | null;
        maintenanceReason: string | null;
      }[];
    }>('GET', '/computers');
    if (json) return printJson(items);
    table([
      ['NAME', 'STATE', 'POWER', 'LOADED', 'NOTE'],
      ...items.map((c) => [
        c.name,
        c.state,
        c.power.state,
        c.loaded === null ? null : `${c.loaded.image}:${c.loaded.revision}`,
        c.maintenanceReason,
      ]),
    ]);
  });

  verb(program, 'images', "the lab's images and their revisions", async (api, _args, _o, json) => {
    const { items } = await api.call<{
      items: {
        name: string;
        osFamily: string;
        owner: string | null;
        revisions: { revision: number; state: string }[];
      }[];
    }>('GET', '/images');
    if (json) return printJson(items);
    table([
      ['NAME', 'OS', 'OWNER', 'REVISIONS'],
      ...items.map((i) => [
        i.name,
        i.osFamily,
        i.owner,
        i.revisions.map((r) => `${r.revision}:${r.state}`).join(' '),
      ]),
    ]);
  });

  verb(
    program,
    'reservations',
    'your reservations (all of them for admins)',
    async (api, _args, options, json) => {
      const state =
        options['state'] === undefined
          ? ''
          : `&state=${encodeURIComponent(String(options['state']))}`;
      const page = await api.call<{ items: Reservation[] }>(
        'GET',
        `/reservations?limit=1000${state}`,
      );
      if (json) return printJson(page.items);
      reservationRows(page.items);
    },
  ).option('--state <state>', 'only those in this state');

  verb<[string]>(
    program,
    'reserve <image>',
    'reserves a computer with an image, waits until it is ready and prints how to connect',
    async (api, [image], options, json) => {
      const reservation = await api.call<Reservation>('POST', '/reservations', {
        image,
        minutes: minutesOf(String(options['for'])),
        ...(options['user'] === undefined ? {} : { logins: options['user'] }),
        ...(options['computer'] === undefined ? {} : { computer: options['computer'] }),
        ...(options['revision'] === undefined ? {} : { revision: Number(options['revision']) }),
      });
      if (options['wait'] === false) {
        if (json) return printJson(reservation);
        out(`reservation ${reservation.id} requested: vlab watch ${reservation.id}\n`);
        return;
      }
      const quiet = options['quiet'] === true;
      if (!json && !quiet)
        out(`reservation ${reservation.id}: ${image} for ${String(options['for'])}\n`);
      const code = await watch(api, reservation.id, {
        write: json || quiet ? () => {} : out,
        tty: process.stdout.isTTY === true,
        json: false,
      });
      if (code !== EXIT.ok) return code;
      const line = await connectLine(api, reservation.id);
      if (json)
        return printJson({
          ...(await api.call<Reservation>('GET', apiPath('reservations', reservation.id))),
          connect: line,
        });
      out(quiet ? `${reservation.id}\n` : `ready: ${line}\n`);
      return EXIT.ok;
    },
  )
    .option('--for <duration>', 'how long (90, 30m, 2h, 1d)', '1h')
    .option('--user <login...>', 'who gets an account (default: you)')
    .option('--computer <name>', 'only this computer')
    .option('--revision <n>', 'this revision (default: the newest in production)')
    .option('--no-wait', 'return once the request is accepted')
    .option('-q, --quiet', 'print only the reservation id, once it is ready');

  verb<[string]>(program, 'show <reservation>', 'one reservation', async (api, [id], _o, json) => {
    const reservation = await api.call<Reservation>('GET', apiPath('reservations', id));
    if (json) return printJson(reservation);
    reservationRows([reservation]);
  });

  verb<[string]>(
    program,
    'connect <reservation>',
    'how to connect to a ready reservation',
    async (api, [id], _o, json) => {
      const line = await connectLine(api, id);
      if (json) return printJson({ connect: line });
      out(`${line}\n`);
    },
  );

  verb<[string]>(
    program,
    'password <reservation>',
    "prints your password on the reservation's computer (sudo asks for it); keep it to yourself",
    async (api, [id], _o, json) => {
      const access = await api.call<{ password: string | null }>(
        'GET',
        apiPath('reservations', id, 'access'),
      );
      if (access.password === null) {
        throw new CliError(
          EXIT.refused,
          `reservation ${id} gave you no password: your key is your login`,
        );
      }
      if (json) return printJson({ password: access.password });
      out(`${access.password}\n`);
    },
  );

  verb<[string | undefined]>(
    program,
    'watch [reservation]',
    "follows a reservation's steps and progress until it is ready, or over; with --image, then until the image's newest revision is in production",
    async (api, [id], options, json) => {
      const image = options['image'] as string | undefined;
      if (id === undefined && image === undefined) {
        throw new CliError(EXIT.usage, 'vlab watch needs a reservation, --image, or both');
      }
      if (id !== undefined) {
        const code = await watch(api, id, { write: out, tty: process.stdout.isTTY === true, json });
        if (code !== EXIT.ok || image === undefined) return code;
      }
      return waitForRevision(api, image as string, { write: out, json });
    },
  ).option('--image <name>', "then wait until this image's newest revision is in production");

  verb<[string]>(
    program,
    'end <reservation>',
    'ends a reservation now',
    async (api, [id], options, json) => {
      const body = options['reason'] === undefined ? {} : { reason: options['reason'] };
      const reservation = await api.call<Reservation>(
        'POST',
        apiPath('reservations', id, 'end'),
        body,
      );
      if (json) return printJson(reservation);
      out(`reservation ${id} is ${reservation.state}\n`);
    },
  ).option('--reason <text>', 'why, kept with the reservation');

  verb<[string]>(
    program,
    'extend <reservation>',
    "moves a reservation's end",
    async (api, [id], options, json) => {
      const reservation = await api.call<Reservation>(
        'POST',
        apiPath('reservations', id, 'extend'),
        {
          minutes: minutesOf(String(options['by'])),
        },
      );
      if (json) return printJson(reservation);
      out(`reservation ${id} ends at ${reservation.endsAt}\n`);
    },
  ).requiredOption('--by <duration>', 'how much longer (30m, 2h)');

  for (const mode of ['capture', 'checkpoint'] as const) {
    verb<[string]>(
      program,
      `${mode} <reservation>`,
      mode === 'capture'
        ? "saves the reservation's computer as a new revision of its image (or of --name), and ends the reservation"
        : "saves the reservation's computer as a new revision of its image (or of --name), and hands it back",
      async (api, [id], options, json) => {
        const into = options['name'] as string | undefined;
        const reservation = await api.call<Reservation>(
          'POST',
          apiPath('reservations', id, mode),
          into === undefined ? undefined : { image: into },
        );
        if (json) return printJson(reservation);
        const image = into ?? reservation.image;
        out(`${mode} of reservation ${id} into ${image} started\n`);
        out(`follow it until the new revision serves: vlab watch ${id} --image ${image}\n`);
      },
    ).option(
      '--name <image>',
      'the image of the new revision; a new name makes a new image, yours',
    );
  }

  const tokens = program.command('tokens').description("your API tokens (everyone's for admins)");
  verb(tokens, 'list', 'lists the tokens', async (api, _a, _o, json) => {
    const { items } = await api.call<{
      items: {
        id: string;
        login: string;
        name: string;
        createdAt: string;
        lastUsedAt: string | null;
      }[];
    }>('GET', '/tokens');
    if (json) return printJson(items);
    table([
      ['ID', 'USER', 'NAME', 'CREATED', 'LAST USED'],
      ...items.map((t) => [t.id, t.login, t.name, t.createdAt, t.lastUsedAt]),
    ]);
  });
  verb<[string]>(
    tokens,
    'issue <name>',
    'issues a token and prints it once',
    async (api, [name], options, json) => {
      const issued = await api.call<{ id: string; token: string; login: string }>(
        'POST',
        '/tokens',
        {
          name,
          ...(options['user'] === undefined ? {} : { login: options['user'] }),
        },
      );
      if (json) return printJson(issued);
      out(`${issued.token}\n`);
    },
  ).option('--user <login>', 'for this user (admins)');
  verb<[string]>(tokens, 'revoke <id>', 'revokes a token', async (api, [id], _o, json) => {
    await api.call('DELETE', apiPath('tokens', id));
    if (json) return printJson({ revoked: id });
    out(`token ${id} revoked\n`);
  });

  verb<[string]>(
    program,
    'maintenance <computer>',
    'takes a computer into maintenance, or out with --off (admins)',
    async (api, [name], options, json) => {
      const path = apiPath('computers', name, 'maintenance');
      if (options['off'] !== true && options['reason'] === undefined) {
        throw new CliError(
          EXIT.usage,
          'give --reason, or --off to take the computer out of maintenance',
        );
      }
      const computer = await api.call<{ name: string; state: string }>(
        options['off'] === true ? 'DELETE' : 'POST',
        path,
        options['off'] === true ? undefined : { reason: options['reason'] },
      );
      if (json) return printJson(computer);
      out(`${computer.name} is ${computer.state}\n`);
    },
  )
    .option('--reason <text>', 'why')
    .addOption(new Option('--off', 'out of maintenance').conflicts('reason'));

  verb<[string, string]>(
    program,
    'reload <computer> <image>',
    'loads an image on a computer in maintenance (admins)',
    async (api, [name, image], options, json) => {
      const computer = await api.call<{ name: string; state: string }>(
        'POST',
        apiPath('computers', name, 'reload'),
        {
          image,
          ...(options['revision'] === undefined ? {} : { revision: Number(options['revision']) }),
        },
      );
      if (json) return printJson(computer);
      out(`${computer.name} is ${computer.state}\n`);
    },
  ).option('--revision <n>', 'this revision (default: the newest in production)');

  verb<[string, string]>(
    program,
    'promote <image> <revision>',
    'marks a testing revision production (admins, the image owner)',
    async (api, [image, revision], _o, json) => {
      const result = await api.call<{ revisions: { revision: number; state: string }[] }>(
        'POST',
        apiPath('images', image, 'revisions', revision, 'promote'),
      );
      if (json) return printJson(result);
      out(`${image} revision ${revision} is production\n`);
    },
  );

  return program;
}

/** Runs the command line; resolves with the exit code. */
export async function runVlab(argv: readonly string[]): Promise<number> {
  const program = vlabProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      if (json) {
        process.stderr.write(
          `${JSON.stringify({ error: { message: error.message, code: error.code, hint: error.hint } })}\n`,
        );
      } else {
        process.stderr.write(
          `vlab: ${error.code === undefined ? '' : `${error.code}: `}${error.message}\n`,
        );
        if (error.hint !== undefined) process.stderr.write(`  ${error.hint}\n`);
      }
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`vlab: ${message}\n`);
    return EXIT.refused;
  }
}
