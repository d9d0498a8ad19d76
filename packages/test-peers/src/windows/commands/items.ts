// Items and item properties over two providers: FileSystem (C:\...) and Registry (HKLM:\...).
// Sources (Microsoft.PowerShell.Management, view=powershell-5.1):
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/test-path?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/get-itemproperty?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/get-itempropertyvalue?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/set-itemproperty?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/new-itemproperty?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/remove-itemproperty?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/new-item?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/get-content?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/set-content?view=powershell-5.1
//   (5.1: default encoding "Default" = the ANSI code page, `UTF8` writes a BOM, `Unicode` is UTF-16LE with BOM)
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/remove-item?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/get-childitem?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/copy-item?view=powershell-5.1
// - Registry provider: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_registry_provider?view=powershell-5.1
// Error texts are PowerShell 5.1's resource strings: "Cannot find path '<p>' because it does not exist."
// (PathNotFound), "Property <n> does not exist at path <HKEY_LOCAL_MACHINE\...>.", "The property already
// exists.", "A key at this path already exists.", "The file '<p>' already exists.", "An item with the
// specified name <p> already exists.", "Could not find a part of the path '<p>'.".
// Relative paths resolve against the SSH user's profile directory (sshd starts the shell there).
import { type CommandCall, defineCmdlet, type PsValue } from '../interpreter/command.js';
import { PsObject, toPsNumber, toPsString } from '../interpreter/values.js';
import {
  type FsEntry,
  hasWildcard,
  leafName,
  normalizeWindowsPath,
  parentPath,
  wildcardToRegExp,
} from '../model/file-system.js';
import {
  normalizeRegistryPath,
  type RegistryKey,
  type RegistryValueKind,
} from '../model/registry.js';
import type { WindowsMachine } from '../model/windows-machine.js';
import { dateValue, flag, has, machineOf, obj, psError, str, strs, value } from './common.js';

const MGMT = 'Microsoft.PowerShell.Commands';
const DOCS = 'https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management';

function cls(cmdlet: string): string {
  return `${MGMT}.${cmdlet.replace('-', '')}Command`;
}

type Resolved = { provider: 'fs'; path: string } | { provider: 'reg'; path: string };

/** Resolves a PowerShell path for the two modelled providers; anything else is not modelled. */
export function resolvePath(call: CommandCall, raw: string): Resolved {
  const reg = normalizeRegistryPath(raw);
  if (reg !== null) return { provider: 'reg', path: reg };
  const text = raw
    .replace(/^Microsoft\.PowerShell\.Core\\FileSystem::/i, '')
    .replace(/^FileSystem::/i, '');
  const abs = normalizeWindowsPath(text);
  if (abs !== null) return { provider: 'fs', path: abs };
  if (!/^[A-Za-z]+:/.test(text) && !text.startsWith('\\\\')) {
    const home = `C:\\Users\\${call.session.user}`;
    const base = text.startsWith('\\') ? 'C:' : home;
    const p = normalizeWindowsPath(`${base}\\${text}`);
    if (p !== null) return { provider: 'fs', path: p };
  }
  throw psError(
    `the Windows peer does not model the path '${raw}'`,
    'NotModelledByWindowsPeer',
    'NotImplemented',
  );
}

function pathNotFound(p: string, cmdlet: string) {
  return psError(
    `Cannot find path '${p}' because it does not exist.`,
    `PathNotFound,${cls(cmdlet)}`,
    'ObjectNotFound',
    'System.Management.Automation.ItemNotFoundException',
  );
}

function hkeyPath(p: string): string {
  return p.replace(/^HKLM:\\?/, 'HKEY_LOCAL_MACHINE\\').replace(/\\$/, '');
}

function regPsPath(p: string): string {
  return `Microsoft.PowerShell.Core\\Registry::${hkeyPath(p)}`;
}

function fsPsPath(p: string): string {
  return `Microsoft.PowerShell.Core\\FileSystem::${p}`;
}

function regData(v: { kind: RegistryValueKind; data: unknown }): PsValue {
  if (Buffer.isBuffer(v.data)) return [...v.data];
  return v.data as PsValue;
}

function keyObject(k: RegistryKey, m: WindowsMachine): PsValue {
  const parent = k.path.slice(0, k.path.lastIndexOf('\\'));
  return obj('Microsoft.Win32.RegistryKey', [
    ['Property', [...k.values.values()].map((v) => v.name)],
    ['PSPath', regPsPath(k.path)],
    ['PSParentPath', regPsPath(parent)],
    ['PSChildName', leafName(k.path)],
    ['PSDrive', 'HKLM'],
    ['PSProvider', 'Microsoft.PowerShell.Core\\Registry'],
    ['PSIsContainer', true],
    ['SubKeyCount', m.registry.subkeys(k.path).length],
    ['View', 'Default'],
    ['Handle', null],
    ['ValueCount', k.values.size],
    ['Name', hkeyPath(k.path)],
  ]);
}

function mode(e: FsEntry): string {
  return `${e.kind === 'directory' ? 'd' : '-'}${e.kind === 'file' ? 'a' : '-'}--${e.hidden ? 'h' : '-'}-`;
}

export function itemObject(e: FsEntry): PsValue {
  const parent = parentPath(e.path);
  const common: [string, PsValue][] = [
    ['PSPath', fsPsPath(e.path)],
    ['PSParentPath', parent === null ? '' : fsPsPath(parent)],
    ['PSChildName', leafName(e.path) || e.path],
    ['PSDrive', 'C'],
    ['PSProvider', 'Microsoft.PowerShell.Core\\FileSystem'],
    ['PSIsContainer', e.kind === 'directory'],
    ['Mode', mode(e)],
    ['Name', leafName(e.path) || e.path],
    ['FullName', e.path],
    ['Exists', true],
    ['LastWriteTime', dateValue(e.lastWriteTime)],
    [
      'Attributes',
      e.kind === 'directory'
        ? e.hidden
          ? 'Hidden, Directory'
          : 'Directory'
        : e.hidden
          ? 'Hidden, Archive'
          : 'Archive',
    ],
  ];
  if (e.kind === 'directory') return obj('System.IO.DirectoryInfo', common);
  const name = leafName(e.path);
  const dot = name.lastIndexOf('.');
  return obj('System.IO.FileInfo', [
    ...common,
    ['Length', e.content.length],
    ['DirectoryName', parent ?? ''],
    ['Extension', dot > 0 ? name.slice(dot) : ''],
  ]);
}

/** Expands a wildcard in the leaf (only there, as the brief of this model says). */
function expand(m: WindowsMachine, call: CommandCall, raw: string, force: boolean): Resolved[] {
  const r = resolvePath(call, raw);
  const leaf = leafName(r.path);
  if (!hasWildcard(leaf)) return [r];
  const parent = r.path.slice(0, r.path.lastIndexOf('\\')) || r.path;
  const re = wildcardToRegExp(leaf);
  if (r.provider === 'reg')
    return m.registry
      .subkeys(parent)
      .filter((k) => re.test(leafName(k.path)))
      .map((k) => ({ provider: 'reg', path: k.path }));
  const dir = parent.length === 2 ? `${parent}\\` : parent;
  if (!m.fs.isDirectory(dir)) return [];
  return m.fs
    .children(dir)
    .filter((e) => re.test(leafName(e.path)) && (force || !e.hidden))
    .map((e) => ({ provider: 'fs', path: e.path }));
}

function exists(m: WindowsMachine, r: Resolved): boolean {
  return r.provider === 'reg' ? m.registry.getKey(r.path) !== undefined : m.fs.exists(r.path);
}

function decodeText(buf: Buffer): string {
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf)
    return buf.subarray(3).toString('utf8');
  if (buf[0] === 0xff && buf[1] === 0xfe) return buf.subarray(2).toString('utf16le');
  if (buf[0] === 0xfe && buf[1] === 0xff)
    return Buffer.from(buf.subarray(2)).swap16().toString('utf16le');
  // No BOM: 5.1 reads the ANSI code page; UTF-8 when it decodes cleanly keeps tests' text intact.
  const utf8 = buf.toString('utf8');
  return utf8.includes('\uFFFD') ? buf.toString('latin1') : utf8;
}

/** Characters the target code page lacks become `?` (as .NET's encoders do). */
function replaceAbove(text: string, max: number): string {
  return Array.from(text, (c) => ((c.codePointAt(0) ?? 0) > max ? '?' : c)).join('');
}

/** Set-Content's bytes for 5.1's -Encoding values. */
export function encodeText(text: string, encoding: string): Buffer {
  switch (encoding.toLowerCase()) {
    case 'utf8':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    case 'unicode':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    case 'bigendianunicode':
      return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    case 'ascii':
      return Buffer.from(replaceAbove(text, 0x7f), 'latin1');
    case 'default':
    case 'string':
    case 'oem':
    case 'unknown':
      return Buffer.from(replaceAbove(text, 0xff), 'latin1');
    case 'byte':
      return Buffer.from(text, 'latin1');
    default:
      throw psError(
        `Cannot bind parameter 'Encoding'. Cannot convert value "${encoding}" to type "Microsoft.PowerShell.Commands.FileSystemCmdletProviderEncoding". Error: "Unable to match the identifier name ${encoding} to a valid enumerator name. Specify one of the following enumerator names and try again:\r\nUnknown, String, Unicode, Byte, BigEndianUnicode, UTF8, UTF7, UTF32, Ascii, Default, Oem, BigEndianUTF32"`,
        'CannotConvertArgumentNoMessage,Microsoft.PowerShell.Commands.SetContentCommand',
        'InvalidArgument',
        'System.Management.Automation.ParameterBindingException',
      );
  }
}

function kindOf(t: string | null): RegistryValueKind | undefined {
  if (t === null) return undefined;
  const k = (['String', 'ExpandString', 'DWord', 'QWord', 'MultiString', 'Binary'] as const).find(
    (x) => x.toLowerCase() === t.toLowerCase(),
  );
  if (!k)
    throw psError(
      `Cannot convert value "${t}" to type "Microsoft.Win32.RegistryValueKind".`,
      'ParameterArgumentTransformationError',
      'InvalidData',
    );
  return k;
}

function coerce(kind: RegistryValueKind, v: PsValue): string | number | string[] | Buffer {
  if (kind === 'DWord' || kind === 'QWord') return toPsNumber(v);
  if (kind === 'MultiString') return (Array.isArray(v) ? v : [v]).map(toPsString);
  if (kind === 'Binary') return Buffer.from((Array.isArray(v) ? v : [v]).map((x) => toPsNumber(x)));
  return toPsString(v);
}

function propertyObject(k: RegistryKey, names: string[] | null, cmdlet: string): PsValue {
  const entries: [string, PsValue][] = [];
  if (names === null) for (const v of k.values.values()) entries.push([v.name, regData(v)]);
  else
    for (const n of names) {
      const v = k.values.get(n.toLowerCase());
      if (!v)
        throw psError(
          `Property ${n} does not exist at path ${hkeyPath(k.path)}.`,
          `System.Management.Automation.PSArgumentException,${cls(cmdlet)}`,
          'InvalidArgument',
          'System.Management.Automation.PSArgumentException',
        );
      entries.push([v.name, regData(v)]);
    }
  const parent = k.path.slice(0, k.path.lastIndexOf('\\'));
  return obj('System.Management.Automation.PSCustomObject', [
    ...entries,
    ['PSPath', regPsPath(k.path)],
    ['PSParentPath', regPsPath(parent)],
    ['PSChildName', leafName(k.path)],
    ['PSDrive', 'HKLM'],
    ['PSProvider', 'Microsoft.PowerShell.Core\\Registry'],
  ]);
}

/**
 * The paths a call names: -Path, -LiteralPath, and pipeline input — strings bind to -Path, items
 * (what Get-ChildItem and Get-Item write) to -LiteralPath through their PSPath property
 * (ValueFromPipelineByPropertyName, as the cmdlets' help says). Other input cannot bind.
 */
function paths(call: CommandCall): string[] {
  const p = [...strs(call, 'Path'), ...strs(call, 'LiteralPath')];
  for (const i of call.input) {
    if (typeof i === 'string') p.push(i);
    else if (i instanceof PsObject && typeof i.get('PSPath') === 'string')
      p.push(i.get('PSPath') as string);
    else
      throw psError(
        `The input object cannot be bound to any parameters for the command either because the command does not take pipeline input or the input and its properties do not match any of the parameters that take pipeline input.`,
        `InputObjectNotBound,${cls(call.name)}`,
        'InvalidArgument',
        'System.Management.Automation.ParameterBindingException',
      );
  }
  return p;
}

function requireKey(
  m: WindowsMachine,
  call: CommandCall,
  raw: string,
  cmdlet: string,
): RegistryKey {
  const r = resolvePath(call, raw);
  if (r.provider !== 'reg')
    throw psError(
      `the Windows peer models ${cmdlet} on registry keys only`,
      'NotModelledByWindowsPeer',
      'NotImplemented',
    );
  const k = m.registry.getKey(r.path);
  if (!k) throw pathNotFound(raw, cmdlet);
  return k;
}

const pathParams = [
  { name: 'Path', type: 'string[]', position: 0, valueFromPipeline: true },
  { name: 'LiteralPath', type: 'string[]', aliases: ['PSPath'] },
] as const;

export const itemCommands = [
  defineCmdlet({
    name: 'Test-Path',
    parameters: [
      ...pathParams,
      { name: 'PathType', type: 'string' },
      { name: 'IsValid', type: 'switch' },
    ],
    source: `${DOCS}/test-path?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const type = (str(call, 'PathType') ?? 'Any').toLowerCase();
      return paths(call).map((p) => {
        if (flag(call, 'IsValid')) return true;
        const hits = expand(m, call, p, true).filter((r) => exists(m, r));
        return hits.some((r) => {
          if (type === 'any') return true;
          const container = r.provider === 'reg' || m.fs.isDirectory(r.path);
          return type === 'container' ? container : !container;
        });
      });
    },
  }),
  defineCmdlet({
    name: 'Get-ItemProperty',
    aliases: ['gp'],
    parameters: [...pathParams, { name: 'Name', type: 'string[]', position: 1 }],
    source: `${DOCS}/get-itemproperty?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const names = strs(call, 'Name');
      return paths(call).map((p) =>
        propertyObject(
          requireKey(m, call, p, 'Get-ItemProperty'),
          names.length === 0 ? null : names,
          'Get-ItemProperty',
        ),
      );
    },
  }),
  defineCmdlet({
    name: 'Get-ItemPropertyValue',
    aliases: ['gpv'],
    parameters: [...pathParams, { name: 'Name', type: 'string[]', position: 1, mandatory: true }],
    source: `${DOCS}/get-itempropertyvalue?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      return paths(call).flatMap((p) => {
        const k = requireKey(m, call, p, 'Get-ItemPropertyValue');
        return strs(call, 'Name').map((n) => {
          const v = k.values.get(n.toLowerCase());
          if (!v)
            throw psError(
              `Property ${n} does not exist at path ${hkeyPath(k.path)}.`,
              `System.Management.Automation.PSArgumentException,${cls('Get-ItemPropertyValue')}`,
              'InvalidArgument',
              'System.Management.Automation.PSArgumentException',
            );
          return regData(v);
        });
      });
    },
  }),
  defineCmdlet({
    name: 'Set-ItemProperty',
    aliases: ['sp'],
    parameters: [
      ...pathParams,
      { name: 'Name', type: 'string', position: 1 },
      { name: 'Value', position: 2 },
      { name: 'Type', type: 'string' },
      { name: 'Force', type: 'switch' },
      { name: 'PassThru', type: 'switch' },
    ],
    source: `${DOCS}/set-itemproperty?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const name = str(call, 'Name') ?? '';
      const v = value(call, 'Value') ?? null;
      for (const p of paths(call)) {
        const k = requireKey(m, call, p, 'Set-ItemProperty');
        // An absent value is created as REG_SZ unless -Type says otherwise; an existing one keeps its kind.
        const kind =
          kindOf(str(call, 'Type')) ??
          k.values.get(name.toLowerCase())?.kind ??
          (typeof v === 'number' ? 'DWord' : 'String');
        m.registry.setValue(k.path, name, coerce(kind, v), kind);
      }
      return [];
    },
  }),
  defineCmdlet({
    name: 'New-ItemProperty',
    parameters: [
      ...pathParams,
      { name: 'Name', type: 'string', position: 1, mandatory: true },
      { name: 'Value', position: 2 },
      { name: 'PropertyType', aliases: ['Type'], type: 'string' },
      { name: 'Force', type: 'switch' },
    ],
    source: `${DOCS}/new-itemproperty?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const name = str(call, 'Name') ?? '';
      const kind = kindOf(str(call, 'PropertyType')) ?? 'String';
      return paths(call).map((p) => {
        const k = requireKey(m, call, p, 'New-ItemProperty');
        if (k.values.has(name.toLowerCase()) && !flag(call, 'Force'))
          throw psError(
            'The property already exists.',
            `System.IO.IOException,${cls('New-ItemProperty')}`,
            'ResourceExists',
            'System.IO.IOException',
          );
        m.registry.setValue(k.path, name, coerce(kind, value(call, 'Value') ?? null), kind);
        return propertyObject(k, [name], 'New-ItemProperty');
      });
    },
  }),
  defineCmdlet({
    name: 'Remove-ItemProperty',
    aliases: ['rp'],
    parameters: [
      ...pathParams,
      { name: 'Name', type: 'string[]', position: 1, mandatory: true },
      { name: 'Force', type: 'switch' },
    ],
    source: `${DOCS}/remove-itemproperty?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      for (const p of paths(call)) {
        const k = requireKey(m, call, p, 'Remove-ItemProperty');
        for (const n of strs(call, 'Name'))
          if (!m.registry.removeValue(k.path, n))
            throw psError(
              `Property ${n} does not exist at path ${hkeyPath(k.path)}.`,
              `System.Management.Automation.PSArgumentException,${cls('Remove-ItemProperty')}`,
              'InvalidArgument',
              'System.Management.Automation.PSArgumentException',
            );
      }
      return [];
    },
  }),
  defineCmdlet({
    name: 'New-Item',
    aliases: ['ni'],
    parameters: [
      { name: 'Path', type: 'string[]', position: 0 },
      { name: 'Name', type: 'string' },
      { name: 'ItemType', aliases: ['Type'], type: 'string' },
      { name: 'Value', valueFromPipeline: true },
      { name: 'Force', type: 'switch' },
    ],
    source: `${DOCS}/new-item?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const force = flag(call, 'Force');
      const name = str(call, 'Name');
      const type = (str(call, 'ItemType') ?? '').toLowerCase();
      const targets = strs(call, 'Path');
      if (targets.length === 0 && name !== null) targets.push('.');
      return targets.map((t) => {
        const r = resolvePath(call, name === null ? t : `${t}\\${name}`);
        if (r.provider === 'reg') {
          if (m.registry.getKey(r.path) && !force)
            throw psError(
              'A key at this path already exists.',
              `System.IO.IOException,${cls('New-Item')}`,
              'ResourceExists',
              'System.IO.IOException',
            );
          const parent = r.path.slice(0, r.path.lastIndexOf('\\'));
          if (!force && parent.length > 5 && !m.registry.getKey(parent))
            throw pathNotFound(
              hkeyPath(parent).replace(/^HKEY_LOCAL_MACHINE/, 'HKLM:'),
              'New-Item',
            );
          const k = m.registry.ensureKey(r.path);
          if (has(call, 'Value'))
            m.registry.setValue(
              k.path,
              '(default)',
              toPsString(value(call, 'Value') ?? null),
              'String',
            );
          return keyObject(k, m);
        }
        const existing = m.fs.get(r.path);
        const parent = parentPath(r.path);
        if (type === 'directory' || type === 'container') {
          if (existing) {
            if (existing.kind === 'directory' && force) return itemObject(existing);
            throw psError(
              `An item with the specified name ${r.path} already exists.`,
              `DirectoryExist,${cls('New-Item')}`,
              'ResourceExists',
              'System.IO.IOException',
            );
          }
          return itemObject(m.fs.mkdirp(r.path));
        }
        if (type !== '' && type !== 'file')
          throw psError(
            `the Windows peer does not model New-Item -ItemType ${type}`,
            'NotModelledByWindowsPeer',
            'NotImplemented',
          );
        if (existing && !force)
          throw psError(
            `The file '${r.path}' already exists.`,
            `NewItemIOError,${cls('New-Item')}`,
            'WriteError',
            'System.IO.IOException',
          );
        if (existing?.kind === 'directory')
          throw psError(
            `Access to the path '${r.path}' is denied.`,
            `NewItemUnauthorizedAccessError,${cls('New-Item')}`,
            'PermissionDenied',
            'System.UnauthorizedAccessException',
          );
        if (parent !== null && !m.fs.isDirectory(parent)) {
          if (!force)
            throw psError(
              `Could not find a part of the path '${r.path}'.`,
              `NewItemIOError,${cls('New-Item')}`,
              'WriteError',
              'System.IO.DirectoryNotFoundException',
            );
          m.fs.mkdirp(parent);
        }
        const v = value(call, 'Value');
        // New-Item -Value writes the text as is (no newline), in the ANSI code page.
        return itemObject(
          m.fs.writeFile(
            r.path,
            v === undefined || v === null ? Buffer.alloc(0) : encodeText(toPsString(v), 'Default'),
          ),
        );
      });
    },
  }),
  defineCmdlet({
    name: 'Get-Content',
    aliases: ['gc', 'cat', 'type'],
    parameters: [
      ...pathParams,
      { name: 'Raw', type: 'switch' },
      { name: 'Encoding', type: 'string' },
      { name: 'TotalCount', aliases: ['First', 'Head'], type: 'int' },
    ],
    source: `${DOCS}/get-content?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const out: PsValue[] = [];
      for (const p of paths(call)) {
        const hits = expand(m, call, p, false);
        if (hits.length === 0 || !hits.every((r) => exists(m, r)))
          throw pathNotFound(p, 'Get-Content');
        for (const r of hits) {
          if (r.provider !== 'fs')
            throw psError(
              'the Windows peer models Get-Content on files only',
              'NotModelledByWindowsPeer',
              'NotImplemented',
            );
          const e = m.fs.get(r.path);
          if (e?.kind !== 'file')
            throw psError(
              `Access to the path '${r.path}' is denied.`,
              `GetContentReaderUnauthorizedAccessError,${cls('Get-Content')}`,
              'PermissionDenied',
              'System.UnauthorizedAccessException',
            );
          const enc = (str(call, 'Encoding') ?? '').toLowerCase();
          const text = enc === 'byte' ? null : decodeText(e.content);
          if (text === null) {
            out.push(...e.content);
            continue;
          }
          if (flag(call, 'Raw')) {
            if (text !== '') out.push(text);
            continue;
          }
          const lines = text.split(/\r\n|\n|\r/);
          if (lines.at(-1) === '') lines.pop();
          const n = has(call, 'TotalCount') ? toPsNumber(value(call, 'TotalCount') ?? null) : -1;
          out.push(...(n >= 0 ? lines.slice(0, n) : lines));
        }
      }
      return out;
    },
  }),
  defineCmdlet({
    name: 'Set-Content',
    aliases: ['sc'],
    parameters: [
      ...pathParams,
      { name: 'Value', type: 'object[]', position: 1, valueFromPipeline: true },
      { name: 'Encoding', type: 'string' },
      { name: 'NoNewline', type: 'switch' },
      { name: 'Force', type: 'switch' },
    ],
    source: `${DOCS}/set-content?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const raw = value(call, 'Value');
      const items = (raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw]).map(
        toPsString,
      );
      const text = flag(call, 'NoNewline') ? items.join('') : items.map((l) => `${l}\r\n`).join('');
      const bytes = encodeText(text, str(call, 'Encoding') ?? 'Default');
      for (const p of [...strs(call, 'Path'), ...strs(call, 'LiteralPath')]) {
        const r = resolvePath(call, p);
        if (r.provider !== 'fs')
          throw psError(
            'the Windows peer models Set-Content on files only',
            'NotModelledByWindowsPeer',
            'NotImplemented',
          );
        const parent = parentPath(r.path);
        if (parent !== null && !m.fs.isDirectory(parent))
          throw psError(
            `Could not find a part of the path '${r.path}'.`,
            `System.IO.DirectoryNotFoundException,${cls('Set-Content')}`,
            'ObjectNotFound',
            'System.IO.DirectoryNotFoundException',
          );
        if (m.fs.isDirectory(r.path))
          throw psError(
            `Access to the path '${r.path}' is denied.`,
            `System.UnauthorizedAccessException,${cls('Set-Content')}`,
            'PermissionDenied',
            'System.UnauthorizedAccessException',
          );
        m.fs.writeFile(r.path, bytes, false);
      }
      return [];
    },
  }),
  defineCmdlet({
    name: 'Remove-Item',
    aliases: ['ri', 'rm', 'del', 'erase', 'rd', 'rmdir'],
    parameters: [
      ...pathParams,
      { name: 'Recurse', type: 'switch' },
      { name: 'Force', type: 'switch' },
    ],
    source: `${DOCS}/remove-item?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const force = flag(call, 'Force');
      for (const p of paths(call)) {
        const hits = expand(m, call, p, force);
        if (!hasWildcard(leafName(resolvePath(call, p).path)) && !hits.every((r) => exists(m, r)))
          throw pathNotFound(p, 'Remove-Item');
        for (const r of hits) {
          const hasChildren =
            r.provider === 'reg'
              ? m.registry.subkeys(r.path).length > 0
              : m.fs.isDirectory(r.path) && m.fs.children(r.path).length > 0;
          if (hasChildren && !flag(call, 'Recurse'))
            // Without -Recurse PowerShell asks for confirmation, which -NonInteractive refuses.
            throw psError(
              'Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.',
              `RemoveItemUnauthorizedAccessError,${cls('Remove-Item')}`,
              'InvalidOperation',
              'System.Management.Automation.PSInvalidOperationException',
            );
          if (r.provider === 'reg') m.registry.removeKey(r.path);
          else m.fs.remove(r.path);
        }
      }
      return [];
    },
  }),
  defineCmdlet({
    name: 'Get-ChildItem',
    aliases: ['gci', 'ls', 'dir'],
    parameters: [
      ...pathParams,
      { name: 'Filter', type: 'string', position: 1 },
      { name: 'Force', type: 'switch' },
      { name: 'Recurse', type: 'switch' },
      { name: 'File', type: 'switch' },
      { name: 'Directory', type: 'switch' },
      { name: 'Name', type: 'switch' },
    ],
    source: `${DOCS}/get-childitem?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const force = flag(call, 'Force');
      const filter = str(call, 'Filter');
      const re = filter === null ? null : wildcardToRegExp(filter);
      const list = paths(call);
      if (list.length === 0) list.push('.');
      const out: PsValue[] = [];
      for (const p of list) {
        const r = resolvePath(call, p);
        if (r.provider === 'reg') {
          const k = m.registry.getKey(r.path);
          if (!k) throw pathNotFound(p, 'Get-ChildItem');
          for (const sk of m.registry.subkeys(r.path))
            if (!re || re.test(leafName(sk.path))) out.push(keyObject(sk, m));
          continue;
        }
        const hits = expand(m, call, p, force);
        if (hits.length === 0 && !hasWildcard(leafName(r.path)))
          throw pathNotFound(p, 'Get-ChildItem');
        const walk = (dir: string) => {
          for (const e of m.fs.children(dir)) {
            if (e.hidden && !force) continue;
            const wanted =
              (!re || re.test(leafName(e.path))) &&
              !(flag(call, 'File') && e.kind !== 'file') &&
              !(flag(call, 'Directory') && e.kind !== 'directory');
            if (wanted) out.push(flag(call, 'Name') ? leafName(e.path) : itemObject(e));
            if (e.kind === 'directory' && flag(call, 'Recurse')) walk(e.path);
          }
        };
        for (const h of hits) {
          const e = m.fs.get(h.path);
          if (!e) throw pathNotFound(p, 'Get-ChildItem');
          if (e.kind === 'directory') walk(e.path);
          else if (!re || re.test(leafName(e.path)))
            out.push(flag(call, 'Name') ? leafName(e.path) : itemObject(e));
        }
      }
      return out;
    },
  }),
  defineCmdlet({
    name: 'Copy-Item',
    aliases: ['copy', 'cp', 'cpi'],
    parameters: [
      ...pathParams,
      { name: 'Destination', type: 'string', position: 1 },
      { name: 'Recurse', type: 'switch' },
      { name: 'Force', type: 'switch' },
    ],
    source: `${DOCS}/copy-item?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const destRaw = str(call, 'Destination') ?? '.';
      const dest = resolvePath(call, destRaw);
      if (dest.provider !== 'fs')
        throw psError(
          'the Windows peer models Copy-Item on files only',
          'NotModelledByWindowsPeer',
          'NotImplemented',
        );
      for (const p of paths(call)) {
        const hits = expand(m, call, p, flag(call, 'Force'));
        if (hits.length === 0 || !hits.every((r) => exists(m, r)))
          throw pathNotFound(p, 'Copy-Item');
        for (const h of hits) {
          const src = m.fs.get(h.path) as FsEntry;
          const target = m.fs.isDirectory(dest.path)
            ? `${dest.path}\\${leafName(src.path)}`
            : dest.path;
          const parent = parentPath(target);
          if (parent !== null && !m.fs.isDirectory(parent))
            throw psError(
              `Could not find a part of the path '${target}'.`,
              `System.IO.DirectoryNotFoundException,${cls('Copy-Item')}`,
              'WriteError',
              'System.IO.DirectoryNotFoundException',
            );
          if (src.kind === 'file') {
            m.fs.writeFile(target, Buffer.from(src.content), false);
            continue;
          }
          m.fs.mkdirp(target);
          if (!flag(call, 'Recurse')) continue;
          const copyTree = (from: string, to: string) => {
            for (const e of m.fs.children(from)) {
              const t = `${to}\\${leafName(e.path)}`;
              if (e.kind === 'file') m.fs.writeFile(t, Buffer.from(e.content));
              else {
                m.fs.mkdirp(t);
                copyTree(e.path, t);
              }
            }
          };
          copyTree(src.path, target);
        }
      }
      return [];
    },
  }),
];
