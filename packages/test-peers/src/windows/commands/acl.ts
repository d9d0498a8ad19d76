// icacls.exe, in the one form a lab uses on key files: `icacls <file> /inheritance:r /grant
// *<SID>:F ...` — remove the inherited entries and grant full control to the listed SIDs, as
// Windows' sshd demands of administrators_authorized_keys and host keys (only Administrators and
// SYSTEM). Other forms are not modelled and refused as such.
// Sources:
//   https://learn.microsoft.com/windows-server/administration/windows-commands/icacls
//   https://learn.microsoft.com/windows-server/administration/openssh/openssh_keymanagement
//     (administrators_authorized_keys: "the ACL on this file needs to be configured to only allow
//     access to administrators and System")
// The summary lines and exit code 2 for a missing file follow icacls' output on Windows.
import { defineNative } from '../interpreter/command.js';
import { notModelled } from '../interpreter/errors.js';
import { machineOf } from './common.js';

const FULL_CONTROL = /^\*(S-1-[0-9]+(?:-[0-9]+)+):F$/i;

export const aclCommands = [
  defineNative({
    names: ['icacls.exe', 'icacls'],
    source: 'https://learn.microsoft.com/windows-server/administration/windows-commands/icacls',
    run(call) {
      const [path = '', inheritance, grant, ...grants] = call.positional.map(String);
      const sids = grants.map((g) => FULL_CONTROL.exec(g)?.[1]);
      if (
        inheritance?.toLowerCase() !== '/inheritance:r' ||
        grant?.toLowerCase() !== '/grant' ||
        sids.length === 0 ||
        sids.some((sid) => sid === undefined)
      )
        throw notModelled(`icacls ${call.positional.join(' ')}`);
      const machine = machineOf(call);
      if (!machine.fs.exists(path)) {
        return {
          stdout: 'Successfully processed 0 files; Failed processing 1 files\r\n',
          stderr: `${path}: The system cannot find the file specified.\r\n`,
          exitCode: 2,
        };
      }
      machine.fileAcls.set(path.toLowerCase(), sids as string[]);
      return {
        stdout: `processed file: ${path}\r\nSuccessfully processed 1 files; Failed processing 0 files\r\n`,
        stderr: '',
        exitCode: 0,
      };
    },
  }),
];
