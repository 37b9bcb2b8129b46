import fs from 'node:fs'
import path from 'node:path'

export interface MockedUser {
  password?: string
  roles?: string[]
  attr?: Record<string, string[]>
}

/**
 * The mocked users, read from .cdsrc.json: those of the development profile, which cds also applies in the
 * test profile (it adds `development` to every profile but `production`), so `cds watch` and the tests log in
 * with the same users, roles and attributes.
 */
export const mockedUsers: Record<string, MockedUser> = (() => {
  const cdsrc = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '.cdsrc.json'), 'utf8')) as {
    requires: { auth: { '[development]': { users: Record<string, MockedUser | false> } } }
  }
  const users = Object.entries(cdsrc.requires.auth['[development]'].users)
  return Object.fromEntries(users.filter((e): e is [string, MockedUser] => e[1] !== false))
})()
