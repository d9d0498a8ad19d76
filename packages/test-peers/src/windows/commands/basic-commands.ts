/** The basic commands every Windows peer models (output, JSON, pipeline, utility cmdlets and natives). */
import type { CommandDefinition } from '../interpreter/command.js';
import { convertFromJson, convertToJson } from './basic-json.js';
import { hostnameExe, taskkillExe, whoamiExe } from './basic-natives.js';
import { outNull, outString, writeError, writeOutput } from './basic-output.js';
import { forEachObject, selectObject, whereObject } from './basic-pipeline.js';
import { joinPath, startSleep } from './basic-utility.js';

export const basicCommands: readonly CommandDefinition[] = [
  writeOutput,
  writeError,
  outNull,
  outString,
  convertToJson,
  convertFromJson,
  forEachObject,
  whereObject,
  selectObject,
  startSleep,
  joinPath,
  hostnameExe,
  whoamiExe,
  taskkillExe,
];
