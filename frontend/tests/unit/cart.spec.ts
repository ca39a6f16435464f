import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { configureClient } from '../../src/api/client'
import { CART_TOKEN_KEY, useCartStore } from '../../src/stores/cart'
import { useAuthStore } from '../../src/stores/auth'
import { cartWith, fakeFetch, problem } from './helpers'

function wire() {
  const auth = useAuthStore()
  const cart = useCartStore()
  configureClient({
    accessToken: () => auth.access,
    refresh: () => auth.refresh(),
    cartToken: () => cart.token,
    cartTokenIssued: (token) => { if (!auth.isLoggedIn) cart.setToken(token) },
  })
  return { auth, cart }
}

describe('cart store', () => {
  beforeEach(() => {
    localStorage.clear()
    vi.unstubAllGlobals()
    setActivePinia(createPinia())
  })

  it('keeps the guest token from X-Cart-Token and sends it back', async () => {
    const { cart } = wire()
    const calls = fakeFetch((call) => {
      if (call.method === 'POST') return { body: cartWith([{ id: 'a', qty: 2, price: 1050 }]), headers: { 'x-cart-token': 'tok-123' } }
      return { body: cartWith([{ id: 'a', qty: 2, price: 1050 }]) }
    })
    await cart.add('p-a', 2)
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/cart/items', body: { product_id: 'p-a', quantity: 2 } })
    expect(calls[0].headers['x-cart-token']).toBeUndefined()
    expect(cart.token).toBe('tok-123')
    expect(localStorage.getItem(CART_TOKEN_KEY)).toBe('tok-123')
    expect(cart.count).toBe(2)
    expect(cart.subtotal).toEqual({ amount_minor: 2100, currency: 'EUR' })

    await cart.load()
    expect(calls[1].headers['x-cart-token']).toBe('tok-123')
  })

  it('updates the count and totals from every answer', async () => {
    const { cart } = wire()
    fakeFetch((call) => {
      if (call.method === 'PUT') return { body: cartWith([{ id: 'a', qty: 5, price: 200 }]) }
      if (call.method === 'DELETE' && call.url === '/cart/items/a') return { body: cartWith([]) }
      return { body: cartWith([{ id: 'a', qty: 1, price: 200 }]) }
    })
    await cart.load()
    expect(cart.count).toBe(1)
    await cart.setQuantity('a', 5)
    expect(cart.count).toBe(5)
    expect(cart.subtotal?.amount_minor).toBe(1000)
    await cart.remove('a')
    expect(cart.isEmpty).toBe(true)
    expect(cart.subtotal).toBeNull()
  })

  it('drops a token that names no cart any more', async () => {
    localStorage.setItem(CART_TOKEN_KEY, 'stale')
    setActivePinia(createPinia())
    const { cart } = wire()
    fakeFetch(() => problem(404, 'cart_not_found', 'no such cart'))
    await expect(cart.load()).rejects.toMatchObject({ code: 'cart_not_found' })
    expect(cart.token).toBeNull()
    expect(localStorage.getItem(CART_TOKEN_KEY)).toBeNull()
    expect(cart.count).toBe(0)
  })

  it('merges the guest cart at sign-in, then forgets the guest token', async () => {
    localStorage.setItem(CART_TOKEN_KEY, 'guest-tok')
    setActivePinia(createPinia())
    const { auth, cart } = wire()
    auth.accept({ access_token: 'jwt', refresh_token: 'r', token_type: 'Bearer', expires_in: 900, refresh_expires_in: 1, user: { id: 'u', email: 'a@b.c', name: 'A', roles: ['customer'], created_at: '' } })
    const calls = fakeFetch(() => ({ body: cartWith([{ id: 'a', qty: 3, price: 100 }]) }))
    await cart.mergeAfterLogin()
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/cart/merge' })
    expect(calls[0].headers).toMatchObject({ authorization: 'Bearer jwt', 'x-cart-token': 'guest-tok' })
    expect(calls[1].headers['x-cart-token']).toBeUndefined()
    expect(cart.token).toBeNull()
    expect(cart.count).toBe(3)
  })
})
