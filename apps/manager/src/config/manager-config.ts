import { isIP } from 'node:net';
import { type ComputerRef, LOGIN_HINT, loginProblem, type SecretRef } from '@vlab/core';
import { z } from 'zod';
import { IMAGE_NAME, IMAGE_NAME_PROBLEMS, MAX_IMAGE_NAME } from '../state/image-name.js';
import { closestKey } from './closest-key.js';
import { formatKeyPath, type KeyPath, quoteText } from './key-path.js';

// ---------------------------------------------------------------------------------------------
// The TypeScript shape of a validated configuration (every default applied).
// ---------------------------------------------------------------------------------------------

/**
 * Where the manager keeps its state. Exactly one of `embedded` (a PostgreSQL the manager runs
 * itself, in `<dataDir>/postgres`) or `url` (an external PostgreSQL).
 * @public
 */
export type DatabaseConfig =
  | {
      /** Run an embedded PostgreSQL in `<dataDir>/postgres`. */
      readonly embedded: {
        /** The TCP port it listens on (on the loopback only). Default: a free port chosen at start. */
        readonly port?: number | undefined;
      };
      /** Absent when `embedded` is given. */
      readonly url?: undefined;
    }
  | {
      /** Absent when `url` is given. */
      readonly embedded?: undefined;
      /** The connection URL of an external PostgreSQL, as a secret reference: it carries a password. */
      readonly url: SecretRef;
    };

/** A module package and the settings its `configSchema` validates. @public */
export interface ModuleEntry {
  /** The npm package, installed in `installDir` (`@vlab/provisioner-baremetal`). */
  readonly package: string;
  /** The module's own settings, passed to its `configSchema` unchanged. Absent: none given. */
  readonly settings?: unknown;
}

/** A computer's addresses. @public */
export interface ComputerAddresses {
  /** Where the manager and the modules reach the computer: an IP address or a host name. */
  readonly management: string;
  /** Where users reach it, when that is another address. */
  readonly public?: string | undefined;
}

/** A computer of a pool: it takes the pool's provisioner and merges the pool's defaults under its own. @public */
export interface PoolComputerConfig {
  /** Unique name in the lab (across all pools and `computers`). */
  readonly name: string;
  /** The host name its OS carries once loaded. */
  readonly hostname: string;
  /** Its management and (optional) public address. */
  readonly addresses: ComputerAddresses;
  /** Provisioner-specific facts, over the pool's. Default: none. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Credentials as secret references, over the pool's. Default: none. */
  readonly credentials: Readonly<Record<string, SecretRef>>;
}

/** Computers that share a provisioner and defaults. @public */
export interface PoolConfig {
  /** The provisioner instance (a key of `provisioners`) every computer of the pool uses. */
  readonly provisioner: string;
  /** Attributes every computer of the pool starts from. Default: none. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Credentials every computer of the pool starts from. Default: none. */
  readonly credentials: Readonly<Record<string, SecretRef>>;
  /** The pool's computers; at least one. */
  readonly computers: readonly PoolComputerConfig[];
}

/** A single computer, outside any pool. @public */
export interface ComputerConfig extends PoolComputerConfig {
  /** Its provisioner instance (a key of `provisioners`). */
  readonly provisioner: string;
}

/** An image users may reserve. @public */
export interface ImageConfig {
  /** The image's name in the stores. */
  readonly name: string;
  /** The OS family of the image: a key of `osModules`. */
  readonly osFamily: string;
  /** The login of the lab user who owns the image. */
  readonly owner: string;
  /**
   * How a new revision of the image is tested before users get it: `auto` (the manager loads it
   * on a free computer and checks it answers), `manual` (an operator marks it tested), `off` (not
   * tested). Default: `auto`.
   */
  readonly newRevisionTest: 'auto' | 'manual' | 'off';
}

/** How the manager runs the lab. @public */
export interface PoliciesConfig {
  /** Limits of a reservation. */
  readonly reservation: {
    /** The longest reservation, in hours. Default: 24. */
    readonly maxHours: number;
    /** A reservation nobody connects to within this many minutes is ended. Default: 15. */
    readonly unusedReclaimMinutes: number;
    /** Seconds between two asks whether a user has connected yet (`os.userConnected`). Default: 30. */
    readonly connectCheckSeconds: number;
  };
  /** Load free computers with the images likely to be reserved next. Default: true. */
  readonly preload: boolean;
  /** Power state checks of every computer. */
  readonly powerSync: {
    /** Seconds between two checks of a computer. Default: 120. */
    readonly intervalSeconds: number;
    /** Failed checks in a row after which a computer goes to maintenance. Default: 3. */
    readonly failuresBeforeMaintenance: number;
  };
  /** How much runs at once. */
  readonly concurrency: {
    /** Operations running at once on one provisioner instance. Default: 8. */
    readonly perProvisioner: number;
  };
  /**
   * Seconds between two heartbeats of a manager in the database; a manager that sees a peer's
   * heartbeat older than twice that takes over the peer's unfinished workflows. Default: 10.
   */
  readonly heartbeatSeconds: number;
}

/**
 * The manager's configuration, validated, every default applied. Paths are as written in the
 * file, except in what `readManagerConfig` returns: there every path is absolute (relative ones
 * are taken from the configuration file's directory).
 * @public
 */
export interface ManagerConfig {
  /** The lab's name (DNS-label-like: `demo`). */
  readonly lab: string;
  /** The manager's data directory; the embedded PostgreSQL lives in `<dataDir>/postgres`. */
  readonly dataDir: string;
  /** Where module packages are installed (their `node_modules` is resolved from here). Default: `.`, the configuration file's directory. */
  readonly installDir: string;
  /** The database. Default: `{ embedded: {} }`. */
  readonly database: DatabaseConfig;
  /**
   * The 32-byte key (base64) the manager encrypts the secrets it generates with
   * (AES-256-GCM). Absent: `<dataDir>/secret.key`, created with mode 0600 at first start.
   */
  readonly secretKey?: SecretRef | undefined;
  /** The OS module of each OS family of images (`linux`). Default: none. */
  readonly osModules: Readonly<Record<string, ModuleEntry>>;
  /** Provisioner instances by name (`bm`). Default: none. */
  readonly provisioners: Readonly<Record<string, ModuleEntry>>;
  /** Pools of computers sharing a provisioner and defaults. Default: none. */
  readonly pools: readonly PoolConfig[];
  /** Single computers, each naming its provisioner. Default: none. */
  readonly computers: readonly ComputerConfig[];
  /** The images users may reserve. Default: none. */
  readonly images: readonly ImageConfig[];
  /** How the manager runs the lab; every key has a default. */
  readonly policies: PoliciesConfig;
}

// ---------------------------------------------------------------------------------------------
// The schema.
// ---------------------------------------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const INSTANCE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const DOTTED_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const ATTRIBUTE_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// Control characters (C0, DEL, C1): never in a path the manager opens or a name it logs.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Whether `text` is a host name: dot-separated labels of letters, digits and inner hyphens, at most 253 characters. */
function isHostname(text: string): boolean {
  return text.length <= 253 && text.split('.').every((label) => HOST_LABEL.test(label));
}

const pathText = z
  .string()
  .min(1, { error: 'must not be empty' })
  .refine((text) => !CONTROL.test(text), { error: 'must not contain control characters' });

const secretRefObject = z
  .strictObject({
    env: z
      .string()
      .regex(ENV_NAME, {
        error:
          'must be an environment variable name: letters, digits and _, not starting with a digit',
      })
      .optional()
      .describe('The environment variable that holds the secret.'),
    file: pathText
      .optional()
      .describe(
        "The file that holds the secret (a trailing newline is dropped); relative to the configuration file's directory.",
      ),
  })
  .superRefine((ref, ctx) => {
    const given = (ref.env === undefined ? 0 : 1) + (ref.file === undefined ? 0 : 1);
    if (given !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          given === 0
            ? 'a secret reference needs env (an environment variable) or file (a path)'
            : 'a secret reference takes env or file, not both',
      });
    }
  })
  .describe(
    'Where a secret lives: `{ env: NAME }` or `{ file: path }`. The file never holds a secret itself.',
  );
/** `{ env }` or `{ file }`, exactly core's `SecretRef`. */
const secretRef = secretRefObject as unknown as z.ZodType<SecretRef>;

/** A key of `attributes` or `credentials`. (`__proto__`, which zod drops, is refused when the file is read.) */
function entryName(what: string) {
  return z.string().regex(ATTRIBUTE_KEY, {
    error: `must be ${what}: letters, digits, _, . and -, starting with a letter or _, at most 64 characters`,
  });
}

const attributes = z
  .record(
    entryName('an attribute name'),
    z
      .string({ error: (issue) => stringOnly(issue.input) })
      .refine((value) => !value.includes('\u0000'), { error: 'must not contain a NUL character' }),
  )
  .default({})
  .describe('Provisioner-specific facts (BMC address, VM name …), string to string.');

const credentials = z
  .record(entryName('a credential name'), secretRef)
  .default({})
  .describe('Credentials the provisioner needs (BMC, hypervisor), name to secret reference.');

/** What a non-string attribute value gets told: YAML reads `623` and `true` as a number and a boolean. */
function stringOnly(input: unknown): string {
  if (typeof input === 'number' || typeof input === 'boolean')
    return `expected a string, got a ${typeof input}: quote the value ('…') so YAML reads it as text`;
  return `expected a string, got ${input === null ? 'null' : Array.isArray(input) ? 'a list' : `a ${typeof input}`}`;
}

const computerName = z
  .string()
  .regex(DNS_LABEL, {
    error:
      'must be a computer name: 1 to 63 lower-case letters, digits and inner hyphens (a DNS label)',
  })
  .describe('Unique name of the computer in the lab (a DNS label: `node12`).');

const hostname = z
  .string()
  .refine(isHostname, {
    error:
      'must be a host name: dot-separated labels of letters, digits and inner hyphens, at most 253 characters',
  })
  .describe('The host name the OS carries once loaded (`c1.lab.example`).');

const address = z.string().refine((text) => isIP(text) !== 0 || isHostname(text), {
  error: 'must be an IP address or a host name',
});

const addresses = z
  .strictObject({
    management: address.describe(
      'Where the manager and the modules reach the computer: an IP address or a host name.',
    ),
    public: address.optional().describe('Where users reach it, when that is another address.'),
  })
  .describe('The computer’s addresses.');

const provisionerName = z
  .string()
  .regex(INSTANCE_NAME, {
    error:
      'must be a provisioner name: lower-case letters, digits, _ and -, starting with a letter or digit, at most 63 characters',
  })
  .describe('A provisioner instance: a key of `provisioners`.');

const osFamily = z
  .string()
  .max(63, { error: 'must be at most 63 characters' })
  .regex(DOTTED_NAME, {
    error:
      'must be an OS family: lower-case letters, digits, ., _ and -, starting with a letter or digit',
  })
  .refine((text) => !text.includes('..'), { error: 'must not contain ".."' });

const moduleEntry = z
  .strictObject({
    package: z
      .string()
      .max(214, { error: 'must be at most 214 characters' })
      .regex(PACKAGE_NAME, {
        error: 'must be an npm package name (`@scope/name` or `name`, lower-case)',
      })
      .describe('The npm package of the module, installed in `installDir`.'),
    settings: z
      .unknown()
      .optional()
      .describe("The module's own settings, validated by the module's configSchema."),
  })
  .describe('A module package and its settings.');

const poolComputerShape = {
  name: computerName,
  hostname,
  addresses,
  attributes: attributes.describe(
    "Provisioner-specific facts of this computer, merged over its pool's.",
  ),
  credentials: credentials.describe("Credentials of this computer, merged over its pool's."),
};

const pool = z
  .strictObject({
    provisioner: provisionerName.describe(
      'The provisioner instance (a key of `provisioners`) of every computer of the pool.',
    ),
    attributes: attributes.describe('Attributes every computer of the pool starts from.'),
    credentials: credentials.describe('Credentials every computer of the pool starts from.'),
    computers: z
      .array(z.strictObject(poolComputerShape).describe('A computer of the pool.'))
      .min(1, { error: 'a pool needs at least one computer' })
      .describe('The computers of the pool.'),
  })
  .describe('Computers sharing a provisioner and defaults.');

const computer = z
  .strictObject({
    ...poolComputerShape,
    provisioner: provisionerName.describe('The provisioner instance of this computer.'),
  })
  .describe('A single computer, outside any pool.');

const image = z
  .strictObject({
    name: z
      .string()
      .max(MAX_IMAGE_NAME, { error: IMAGE_NAME_PROBLEMS.long })
      .regex(IMAGE_NAME, { error: IMAGE_NAME_PROBLEMS.pattern })
      .refine((text) => !text.includes('..'), { error: IMAGE_NAME_PROBLEMS.dots })
      .describe('The image’s name in the stores (`debian-12`).'),
    osFamily: osFamily.describe('The OS family of the image: a key of `osModules`.'),
    owner: z
      .string()
      .superRefine((login, ctx) => {
        const problem = loginProblem(login);
        if (problem !== undefined)
          ctx.addIssue({ code: 'custom', message: `${problem}. ${LOGIN_HINT}` });
      })
      .describe('The login of the lab user who owns the image.'),
    newRevisionTest: z
      .enum(['auto', 'manual', 'off'])
      .default('auto')
      .describe(
        'How a new revision is tested: auto (loaded on a free computer and checked), manual (an operator marks it), off. Default: auto.',
      ),
  })
  .describe('An image users may reserve.');

const positiveInt = z.number().int({ error: 'must be a whole number' }).positive({
  error: 'must be greater than 0',
});

const policies = z
  .strictObject({
    reservation: z
      .strictObject({
        maxHours: positiveInt
          .default(24)
          .describe('The longest reservation, in hours. Default: 24.'),
        unusedReclaimMinutes: positiveInt
          .default(15)
          .describe(
            'A reservation nobody connects to within this many minutes is ended. Default: 15.',
          ),
        connectCheckSeconds: positiveInt
          .default(30)
          .describe(
            'Seconds between two asks whether a user has connected yet (`os.userConnected`). Default: 30.',
          ),
      })
      .prefault({})
      .describe('Limits of a reservation.'),
    preload: z
      .boolean()
      .default(true)
      .describe('Load free computers with the images likely to be reserved next. Default: true.'),
    powerSync: z
      .strictObject({
        intervalSeconds: positiveInt
          .default(120)
          .describe('Seconds between two power checks of a computer. Default: 120.'),
        failuresBeforeMaintenance: positiveInt
          .default(3)
          .describe(
            'Failed checks in a row after which a computer goes to maintenance. Default: 3.',
          ),
      })
      .prefault({})
      .describe('Power state checks of every computer.'),
    concurrency: z
      .strictObject({
        perProvisioner: positiveInt
          .default(8)
          .describe('Operations running at once on one provisioner instance. Default: 8.'),
      })
      .prefault({})
      .describe('How much runs at once.'),
    heartbeatSeconds: positiveInt
      .default(10)
      .describe(
        "Seconds between two heartbeats of a manager in the database; a manager that sees a peer's heartbeat older than twice that takes over the peer's unfinished workflows. Default: 10.",
      ),
  })
  .prefault({})
  .describe('How the manager runs the lab; every key has a default.');

const databaseObject = z
  .strictObject({
    embedded: z
      .strictObject({
        port: z
          .number()
          .int({ error: 'must be a whole number' })
          .min(1, { error: 'must be a port number (1 to 65535)' })
          .max(65535, { error: 'must be a port number (1 to 65535)' })
          .optional()
          .describe(
            'The port it listens on (loopback only). Default: a free port chosen at start.',
          ),
      })
      .optional()
      .describe('Run an embedded PostgreSQL in `<dataDir>/postgres`.'),
    url: secretRef
      .optional()
      .describe(
        'An external PostgreSQL: its connection URL as a secret reference (it carries a password).',
      ),
  })
  .superRefine((value, ctx) => {
    const given = (value.embedded === undefined ? 0 : 1) + (value.url === undefined ? 0 : 1);
    if (given !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          given === 0
            ? 'give embedded ({} for the defaults) or url'
            : 'give embedded or url, not both',
      });
    }
  });
/** Exactly one of `embedded` or `url` (the refinement above), typed so. */
const database = (databaseObject as unknown as z.ZodType<DatabaseConfig>)
  .prefault({ embedded: {} })
  .describe('The database: exactly one of embedded or url. Default: `{ embedded: {} }`.');

const schema = z
  .strictObject({
    lab: z
      .string()
      .regex(DNS_LABEL, {
        error:
          'must be a lab name: 1 to 63 lower-case letters, digits and inner hyphens (a DNS label)',
      })
      .describe('The lab’s name (a DNS label: `demo`).'),
    dataDir: pathText.describe(
      "The manager's data directory (the embedded PostgreSQL lives in `<dataDir>/postgres`); relative to the configuration file's directory.",
    ),
    installDir: pathText
      .default('.')
      .describe(
        "Where module packages are installed (their node_modules is resolved from here); relative to the configuration file's directory. Default: that directory.",
      ),
    database,
    secretKey: secretRef
      .optional()
      .describe(
        'The 32-byte key (base64) for AES-256-GCM of the secrets the manager generates. Default: `<dataDir>/secret.key`, created with mode 0600 at first start.',
      ),
    osModules: z
      .record(
        osFamily.describe('An OS family (`linux`).'),
        moduleEntry.describe('The OS module of the family.'),
      )
      .default({})
      .describe('The OS module of each OS family of images.'),
    provisioners: z
      .record(
        provisionerName.describe('The name of the instance (`bm`).'),
        moduleEntry.describe('The provisioner package of the instance and its settings.'),
      )
      .default({})
      .describe('Provisioner instances by name.'),
    pools: z
      .array(pool)
      .default([])
      .describe('Pools of computers sharing a provisioner and defaults.'),
    computers: z
      .array(computer)
      .default([])
      .describe('Single computers, each naming its provisioner.'),
    images: z.array(image).default([]).describe('The images users may reserve.'),
    policies,
  })
  .superRefine((config, ctx) => {
    for (const issue of crossReferenceIssues(config as ManagerConfig)) {
      ctx.addIssue({
        code: 'custom',
        path: issue.path,
        message: issue.message,
        params: { [CROSS_REFERENCE]: true },
      });
    }
  })
  .describe('The configuration file of the vlab manager.');

/**
 * The schema of the manager's configuration file (zod 4, a Standard Schema). Every object is
 * strict: an unknown key is refused. Beyond each key's type it checks the cross-references: every
 * computer's provisioner exists, computer names are unique across pools and `computers`, image
 * names are unique, and every image's OS family has an `osModules` entry.
 * @public
 */
export const managerConfigSchema: z.ZodType<ManagerConfig> = schema;

/**
 * The `params` key that marks a cross-reference issue: one that a wrong key elsewhere may cause
 * (a misspelt `provisioners:` leaves every computer's provisioner unknown), so a reader of the
 * issues can leave them out while others remain.
 * @internal
 */
export const CROSS_REFERENCE = 'vlabCrossReference';

/** One cross-reference problem, as a zod issue: where (`path`) and what. */
interface CrossReferenceIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/** The cross-reference problems of a configuration whose keys each have the right type. */
function crossReferenceIssues(config: ManagerConfig): CrossReferenceIssue[] {
  const issues: CrossReferenceIssue[] = [];
  const provisioners = Object.keys(config.provisioners);
  const checkProvisioner = (name: string, path: (string | number)[]): void => {
    if (Object.hasOwn(config.provisioners, name)) return;
    const guess = closestKey(name, provisioners);
    issues.push({
      path,
      message:
        provisioners.length === 0
          ? `there is no provisioner ${quoteText(name)}: add it under provisioners`
          : `there is no provisioner ${quoteText(name)} (provisioners: ${provisioners.join(', ')})${guess === undefined ? '' : `; did you mean \`${guess}\`?`}`,
    });
  };
  const names = new Map<string, KeyPath>();
  const checkName = (name: string, path: (string | number)[]): void => {
    const first = names.get(name);
    if (first === undefined) names.set(name, path);
    else {
      issues.push({
        path,
        message: `the computer name ${name} is already used by ${formatKeyPath(first)}; computer names are unique across pools and computers`,
      });
    }
  };
  config.pools.forEach((pool, p) => {
    checkProvisioner(pool.provisioner, ['pools', p, 'provisioner']);
    pool.computers.forEach((member, c) => {
      checkName(member.name, ['pools', p, 'computers', c, 'name']);
    });
  });
  config.computers.forEach((single, c) => {
    checkName(single.name, ['computers', c, 'name']);
    checkProvisioner(single.provisioner, ['computers', c, 'provisioner']);
  });
  const families = Object.keys(config.osModules);
  const images = new Map<string, number>();
  config.images.forEach((entry, i) => {
    const first = images.get(entry.name);
    if (first === undefined) images.set(entry.name, i);
    else {
      issues.push({
        path: ['images', i, 'name'],
        message: `the image name ${entry.name} is already used by images.${first}`,
      });
    }
    if (!Object.hasOwn(config.osModules, entry.osFamily)) {
      issues.push({
        path: ['images', i, 'osFamily'],
        message:
          families.length === 0
            ? `no OS module for the OS family ${entry.osFamily}: add osModules.${entry.osFamily} with its package`
            : `no OS module for the OS family ${entry.osFamily} (osModules: ${families.join(', ')}): add osModules.${entry.osFamily} or fix the family`,
      });
    }
  });
  return issues;
}

// ---------------------------------------------------------------------------------------------
// From the configuration to what the modules see.
// ---------------------------------------------------------------------------------------------

/** A computer of the configuration, as core's `ComputerRef`, with its provisioner instance. @public */
export interface ConfiguredComputer {
  /** The provisioner instance (a key of `provisioners`) that drives it. */
  readonly provisioner: string;
  /** The computer as operations see it: its pool's attributes and credentials under its own. */
  readonly computer: ComputerRef;
  /** Where the computer is declared in the file (`['pools', 0, 'computers', 2]`), for messages. */
  readonly path: KeyPath;
}

/**
 * The computers of a validated configuration as core `ComputerRef`s: the pools' computers (each
 * pool's attributes and credentials merged under the computer's own: the computer's win), then
 * the single computers, in file order.
 * @public
 */
export function configuredComputers(config: ManagerConfig): ConfiguredComputer[] {
  const ref = (
    entry: PoolComputerConfig,
    defaults: Pick<PoolConfig, 'attributes' | 'credentials'>,
  ): ComputerRef => ({
    name: entry.name,
    hostname: entry.hostname,
    addresses:
      entry.addresses.public === undefined
        ? { management: entry.addresses.management }
        : { management: entry.addresses.management, public: entry.addresses.public },
    attributes: { ...defaults.attributes, ...entry.attributes },
    credentials: { ...defaults.credentials, ...entry.credentials },
  });
  const out: ConfiguredComputer[] = [];
  config.pools.forEach((pool, p) => {
    pool.computers.forEach((member, c) => {
      out.push({
        provisioner: pool.provisioner,
        computer: ref(member, pool),
        path: ['pools', p, 'computers', c],
      });
    });
  });
  config.computers.forEach((single, c) => {
    out.push({
      provisioner: single.provisioner,
      computer: ref(single, { attributes: {}, credentials: {} }),
      path: ['computers', c],
    });
  });
  return out;
}
