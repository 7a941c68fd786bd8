import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { EtcUserDirectory } from '../../../agent/workloadattestation/user-directory.js'

t.test('names from passwd and group files; first entry wins; junk lines skipped', async (t) => {
  const dir = t.testdir({
    passwd: [
      '# comment',
      'root:x:0:0:root:/root:/bin/bash',
      'alice:x:1000:1000::/home/alice:/bin/sh',
      'alias:x:1000:1000::/home/alice:/bin/sh',
      '+nis::::::',
      'broken:x:notanumber:1::/:/bin/sh',
      '',
    ].join('\n'),
    group: 'root:x:0:\nstaff:x:50:alice\nalice:x:1000:\n',
  })
  let now = 0
  const users = new EtcUserDirectory({
    passwdPath: join(dir, 'passwd'),
    groupPath: join(dir, 'group'),
    now: () => now,
  })
  t.equal(users.userName(0), 'root')
  t.equal(users.userName(1000), 'alice')
  t.equal(users.userName(4242), undefined)
  t.equal(users.groupName(50), 'staff')
  t.equal(users.groupName(51), undefined)

  writeFileSync(join(dir, 'passwd'), 'bob:x:1000:1000::/home/bob:/bin/sh\nextra-long-line:x:7:7::/:/bin/sh\n')
  t.equal(users.userName(1000), 'alice', 'within recheckMs the parsed file is reused')
  now += 1000
  t.equal(users.userName(1000), 'bob', 'a changed file is re-read after recheckMs')
})

t.test('missing files mean no names, not an error', async (t) => {
  const dir = t.testdir({})
  const users = new EtcUserDirectory({ passwdPath: join(dir, 'nope'), groupPath: join(dir, 'nope2') })
  t.equal(users.userName(0), undefined)
  t.equal(users.groupName(0), undefined)
})

t.test('defaults read the real /etc files', async (t) => {
  t.equal(new EtcUserDirectory().userName(0), 'root')
  t.equal(new EtcUserDirectory().groupName(0), 'root')
})
