import cds from '@sap/cds'
import type { Request } from '@sap/cds'
import { CHECKED_WITH_CDS, fold, guardInstanceAccess, scopedUser, subaccountScope } from '../srv/lib/instance-auth'

/**
 * Who reaches which subaccounts, and the form in which CAP gets the attribute (srv/lib/instance-auth.ts);
 * the suites with a server (security, security-postgres, jwt) show the same rules end to end.
 */

const GUID1 = '3f6f6a2e-8b1c-4d7a-9e2f-1a2b3c4d5e61'
const GUID2 = '7c1d9e4b-2a3f-4b8c-8d5e-6f7a8b9c0d72'
const user = (attr: Record<string, unknown>, roles: string[] = ['Viewer']) =>
  new cds.User({ id: 'u', roles, attr } as unknown as ConstructorParameters<typeof cds.User>[0])

describe('subaccountScope', () => {
  test.each([
    ['no attribute (XSUAA: unrestricted)', {}, 'all'],
    ['an attribute left undefined', { Subaccount: undefined }, 'all'],
    ['one subaccount', { Subaccount: [GUID1] }, [GUID1]],
    ['two subaccounts', { Subaccount: [GUID1, GUID2] }, [GUID1, GUID2]],
    ['a single string', { Subaccount: GUID1 }, [GUID1]],
    ['an empty list', { Subaccount: [] }, []],
    ['null', { Subaccount: null }, []],
    ['no strings', { Subaccount: [42, {}] }, []]
  ])('%s', (_what, attr, scope) => {
    expect(subaccountScope(user(attr))).toEqual(scope)
  })

  test('a client-credentials token (system-user) reaches none, even without the attribute', () => {
    expect(subaccountScope(user({}, ['Viewer', 'system-user']))).toEqual([])
  })

  test('the privileged user reaches all, the anonymous one none', () => {
    expect(subaccountScope(cds.User.privileged)).toBe('all')
    expect(subaccountScope(cds.User.anonymous)).toEqual([])
  })
})

describe('scopedUser: the attribute as CAP resolves it without untyped parameters', () => {
  test.each([
    [{}, undefined],
    [{ Subaccount: [GUID1] }, [GUID1, GUID1]],
    [{ Subaccount: [GUID1, GUID2] }, [GUID1, GUID2]],
    [{ Subaccount: [] }, ['(none)', '(none)']]
  ])('%j -> %j', (attr, expected) => {
    const original = user({ ...attr, email: 'u@example.test' })
    const scoped = scopedUser(original)
    expect((scoped.attr as Record<string, unknown>).Subaccount).toEqual(expected)
    expect((scoped.attr as Record<string, unknown>).email).toBe('u@example.test')
    // the same user otherwise, and the original (shared between requests for mocked users) unchanged
    expect([scoped.id, scoped.is('Viewer'), scoped.is('Administrator')]).toEqual(['u', true, false])
    expect((original.attr as Record<string, unknown>).Subaccount).toEqual((attr as Record<string, unknown>).Subaccount)
    expect(subaccountScope(scoped)).toEqual(subaccountScope(original))
    expect(scopedUser(scoped)).toBe(scoped)
  })
})

describe('fold: the constants CAP leaves in a resolved condition', () => {
  const x = { ref: ['subaccountId'] }
  const list = { list: [{ val: GUID1 }] }
  const t = [{ val: '1' }, '=', { val: '1' }]
  const f = [{ val: '1' }, '=', { val: '2' }]
  test.each([
    ['true or x', [{ xpr: [...t, 'or', x, 'in', list] }], true],
    ['false or x', [{ xpr: [...f, 'or', x, 'in', list] }], [{ xpr: [x, 'in', list] }]],
    ['false or false', [...f, 'or', ...f], false],
    ['y and (true or x)', [{ ref: ['y'] }, '=', { val: 2 }, 'and', { xpr: [...t, 'or', x, 'in', list] }], [{ ref: ['y'] }, '=', { val: 2 }]],
    ['y or x and false', [{ ref: ['y'] }, '=', { val: 2 }, 'or', x, 'in', list, 'and', ...f], [{ ref: ['y'] }, '=', { val: 2 }]]
  ])('%s', (_what, tokens, expected) => {
    expect(fold(tokens)).toEqual(expected)
  })

  test('a not keeps the structure: nested expressions fold into literals, the rest stays', () => {
    const folded = fold(['not', { xpr: [...t, 'or', x, 'in', list] }, 'and', ...f])
    expect(folded).toEqual(['not', { xpr: [{ val: 1, param: false }, '=', { val: 1, param: false }] }, 'and', ...f])
  })
})

/**
 * The guard runs two handlers in CAP's initial phase through CAP's internal `_initial` flag (`initial` in
 * srv/lib/instance-auth.ts): CAP 9 documents no other way to run before its own authorization. These tests
 * fail when CAP changes under it.
 */
describe('initial handlers: what the guard relies on in CAP', () => {
  test('@sap/cds is the version the initial phase was checked with (on a change: re-check `_initial` in lib/srv/srv-handlers.js and srv-dispatch.js, then this pin)', () => {
    expect(cds.version).toBe(CHECKED_WITH_CDS)
  })

  test("the user is scoped before CAP adds a @restrict condition; the service's handlers see the same user", async () => {
    // a service of its own (the service compiles the model for Node.js)
    const model = cds.parse.cdl(`service Probe {
      @restrict: [{ grant: 'READ', to: 'Viewer', where: (subaccountId in $user.Subaccount) }]
      entity Accounts { key ID : UUID; subaccountId : String(36); }
    }`)
    const srv = new cds.ApplicationService('Probe', model)
    await srv.init()
    guardInstanceAccess(srv)
    const seen: { where?: unknown; user?: unknown } = {}
    // answers the READ itself: the query as CAP's authorization and the guard left it, without a database
    srv.prepend(() =>
      srv.on('READ', 'Accounts', (req: Request) => {
        seen.where = (req.query as { SELECT?: { where?: unknown } }).SELECT?.where
        seen.user = (req.user.attr as Record<string, unknown>).Subaccount
        return []
      })
    )
    await srv.tx({ user: user({ Subaccount: [GUID1] }) }, tx => tx.run(SELECT.from('Probe.Accounts')))
    // one subaccount goes to CAP as a list of two values (scopedUser): CAP's condition holds both
    expect(seen.user).toEqual([GUID1, GUID1])
    expect(JSON.stringify(seen.where)).toContain(JSON.stringify({ list: [{ val: GUID1 }, { val: GUID1 }] }))
  })
})
