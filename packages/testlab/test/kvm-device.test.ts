import { describe, expect, it } from 'vitest';
import { groupId } from '../src/kvm-device.js';

describe('groupId', () => {
  const etcGroup = 'root:x:0:\nkvm:x:107:libvirt-qemu\nkvmx:x:9:\nbroken:x::\n';
  it('reads the id of a group from /etc/group', () => {
    expect(groupId(etcGroup, 'kvm')).toBe(107);
    expect(groupId(etcGroup, 'root')).toBe(0);
  });
  it('says undefined for a group that is missing or has no id', () => {
    expect(groupId(etcGroup, 'kv')).toBeUndefined();
    expect(groupId(etcGroup, 'broken')).toBeUndefined();
  });
});
