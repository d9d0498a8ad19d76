// Every command this peer models over the WindowsMachine (the interpreter's basic-*.ts are separate).
import type { CommandDefinition } from '../interpreter/command.js';
import { accountCommands } from './accounts.js';
import { aclCommands } from './acl.js';
import { cimCommands } from './cim.js';
import { firewallCommands } from './firewall.js';
import { itemCommands } from './items.js';
import { sessionCommands } from './sessions.js';
import { systemCommands } from './system.js';

export const machineCommands: readonly CommandDefinition[] = [
  ...accountCommands,
  ...aclCommands,
  ...cimCommands,
  ...sessionCommands,
  ...firewallCommands,
  ...itemCommands,
  ...systemCommands,
];
