// The caller's cart: a guest's by the X-Cart-Token kept in localStorage, a user's by their token.
// Every change answers the whole cart, so the header badge and totals follow each call at once.
import { defineStore } from 'pinia'
import { api } from '../api/client'
import type { Cart } from '../api/types'
import { ApiError } from '../lib/problem'
import { storage } from '../lib/storage'

export const CART_TOKEN_KEY = 'shop.cartToken'

export const emptyCart = (): Cart => ({ id: null, currency: null, item_count: 0, subtotal: null, lines: [] })

export const useCartStore = defineStore('cart', {
  state: () => ({
    cart: emptyCart(),
    token: storage.get(CART_TOKEN_KEY),
    loaded: false,
    busy: false,
  }),
  getters: {
    count: (state) => state.cart.item_count,
    subtotal: (state) => state.cart.subtotal,
    isEmpty: (state) => state.cart.lines.length === 0,
  },
  actions: {
    setToken(token: string | null) {
      this.token = token
      storage.set(CART_TOKEN_KEY, token)
    },
    apply(cart: Cart) {
      this.cart = cart
      this.loaded = true
      if (cart.cart_token) this.setToken(cart.cart_token)
    },
    /** Runs a cart call; a guest token that names no cart any more is dropped (an empty cart). */
    async run(call: () => Promise<Cart>): Promise<Cart> {
      this.busy = true
      try {
        this.apply(await call())
        return this.cart
      } catch (error) {
        if (error instanceof ApiError && error.code === 'cart_not_found') {
          this.setToken(null)
          this.apply(emptyCart())
        }
        throw error
      } finally {
        this.busy = false
      }
    },
    load() {
      return this.run(() => api.get<Cart>('/cart', { cart: true }))
    },
    add(productId: string, quantity = 1) {
      return this.run(() => api.post<Cart>('/cart/items', { product_id: productId, quantity }, { cart: true }))
    },
    setQuantity(lineId: string, quantity: number) {
      return this.run(() => api.put<Cart>(`/cart/items/${encodeURIComponent(lineId)}`, { quantity }, { cart: true }))
    },
    remove(lineId: string) {
      return this.run(() => api.del<Cart>(`/cart/items/${encodeURIComponent(lineId)}`, { cart: true }))
    },
    clear() {
      return this.run(() => api.del<Cart>('/cart', { cart: true }))
    },
    /** After sign-in: fold the guest cart into the user's, then forget the guest token. */
    async mergeAfterLogin() {
      if (this.token) {
        try {
          await this.run(() => api.post<Cart>('/cart/merge', undefined, { cart: true }))
        } catch {
          // an expired guest cart merges nothing; the user's own cart still loads below
        }
        this.setToken(null)
      }
      return this.load().catch(() => this.cart)
    },
    /** After sign-out: the user's cart stays theirs on the server; this browser starts empty. */
    reset() {
      this.setToken(null)
      this.cart = emptyCart()
      this.loaded = false
    },
  },
})
