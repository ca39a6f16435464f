import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { api, configureClient } from '../../src/api/client'
import { useAuthStore } from '../../src/stores/auth'
import { fakeFetch, problem } from './helpers'

const user = { id: 'u1', email: 'ada@example.com', name: 'Ada', roles: ['customer'], created_at: '2026-01-01T00:00:00Z' }
const tokens = (access: string, refresh: string, roles = ['customer']) => ({
  access_token: access, token_type: 'Bearer', expires_in: 900, refresh_token: refresh, refresh_expires_in: 100, user: { ...user, roles },
})

function wire() {
  const auth = useAuthStore()
  configureClient({ accessToken: () => auth.access, refresh: () => auth.refresh(), cartToken: () => null, cartTokenIssued: () => {} })
  return auth
}

describe('auth store', () => {
  beforeEach(() => {
    localStorage.clear()
    vi.unstubAllGlobals()
    setActivePinia(createPinia())
  })

  it('signs in, keeps the session across reloads, and knows the roles', async () => {
    const auth = wire()
    const calls = fakeFetch(() => ({ body: tokens('a1', 'r1', ['admin']) }))
    await auth.login('ada@example.com', 'secret-pass')
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/auth/login', body: { email: 'ada@example.com', password: 'secret-pass' } })
    expect(calls[0].headers.authorization).toBeUndefined()
    expect(auth.isLoggedIn).toBe(true)
    expect(auth.isAdmin).toBe(true)

    setActivePinia(createPinia())
    const reloaded = useAuthStore()
    expect(reloaded.user?.email).toBe('ada@example.com')
    expect(reloaded.access).toBe('a1')
  })

  it('refreshes an expired access token once and retries the call', async () => {
    const auth = wire()
    auth.accept(tokens('old', 'r1'))
    const calls = fakeFetch((call) => {
      if (call.url === '/auth/refresh') return { body: tokens('new', 'r2') }
      if (call.headers.authorization === 'Bearer old') return problem(401, 'unauthorized', 'token expired')
      return { body: user }
    })
    const profile = await api.get('/auth/profile')
    expect(profile).toEqual(user)
    expect(calls.map((c) => c.url)).toEqual(['/auth/profile', '/auth/refresh', '/auth/profile'])
    expect(calls[1].body).toEqual({ refresh_token: 'r1' })
    expect(auth.access).toBe('new')
    expect(auth.refreshToken).toBe('r2')
  })

  it('signs out locally when the refresh token is refused', async () => {
    const auth = wire()
    auth.accept(tokens('old', 'r1'))
    fakeFetch((call) => (call.url === '/auth/refresh' ? problem(401, 'unauthorized', 'reused') : problem(401, 'unauthorized', 'expired')))
    await expect(api.get('/auth/profile')).rejects.toMatchObject({ status: 401 })
    expect(auth.isLoggedIn).toBe(false)
    expect(localStorage.getItem('shop.session')).toBeNull()
  })

  it('logs out on the server with the refresh token, and forgets the session', async () => {
    const auth = wire()
    auth.accept(tokens('a1', 'r1'))
    const calls = fakeFetch(() => ({ status: 204 }))
    await auth.logout()
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/auth/logout', body: { refresh_token: 'r1' } })
    expect(calls[0].headers.authorization).toBe('Bearer a1')
    expect(auth.isLoggedIn).toBe(false)
  })

  it('shows a duplicate registration as a problem with its code', async () => {
    const auth = wire()
    fakeFetch(() => problem(409, 'conflict', 'email already registered'))
    await expect(auth.register('ada@example.com', 'secret-pass', 'Ada')).rejects.toMatchObject({ status: 409, code: 'conflict' })
    expect(auth.isLoggedIn).toBe(false)
  })
})
