// The signed-in user and their tokens (kept in localStorage so a reload stays signed in).
import { defineStore } from 'pinia'
import { api } from '../api/client'
import type { TokenResponse, User } from '../api/types'
import { storage } from '../lib/storage'

const KEY = 'shop.session'

interface Session {
  access: string
  refresh: string
  user: User
}

export const useAuthStore = defineStore('auth', {
  state: () => {
    const saved = storage.getJson<Session | null>(KEY, null)
    return {
      user: saved?.user ?? null as User | null,
      access: saved?.access ?? null as string | null,
      refreshToken: saved?.refresh ?? null as string | null,
    }
  },
  getters: {
    isLoggedIn: (state) => state.user !== null && state.access !== null,
    isAdmin: (state) => state.user?.roles.includes('admin') ?? false,
  },
  actions: {
    accept(tokens: TokenResponse) {
      this.user = tokens.user
      this.access = tokens.access_token
      this.refreshToken = tokens.refresh_token
      this.persist()
    },
    persist() {
      if (this.user && this.access && this.refreshToken) {
        storage.setJson(KEY, { access: this.access, refresh: this.refreshToken, user: this.user })
      } else {
        storage.set(KEY, null)
      }
    },
    forget() {
      this.user = null
      this.access = null
      this.refreshToken = null
      this.persist()
    },
    async login(email: string, password: string) {
      this.accept(await api.post<TokenResponse>('/auth/login', { email, password }, { anonymous: true }))
    },
    async register(email: string, password: string, name: string) {
      this.accept(await api.post<TokenResponse>('/auth/register', { email, password, name }, { anonymous: true }))
    },
    /** One refresh at a time: parallel 401s share it (a refresh token is single-use). */
    refresh(): Promise<boolean> {
      if (refreshing) return refreshing
      const token = this.refreshToken
      if (!token) return Promise.resolve(false)
      refreshing = api
        .post<TokenResponse>('/auth/refresh', { refresh_token: token }, { anonymous: true })
        .then((tokens) => {
          this.accept(tokens)
          return true
        })
        .catch(() => {
          this.forget()
          return false
        })
        .finally(() => {
          refreshing = null
        })
      return refreshing
    },
    /** Signed out here at once; then the server revokes the session and deny-lists the token. */
    async logout() {
      const access = this.access
      const refresh = this.refreshToken
      this.forget()
      if (!access) return
      try {
        await api.post('/auth/logout', { refresh_token: refresh }, { anonymous: true, headers: { authorization: `Bearer ${access}` } })
      } catch {
        // an expired or already revoked session is over anyway
      }
    },
    async loadProfile() {
      this.user = await api.get<User>('/auth/profile')
      this.persist()
      return this.user
    },
    async updateProfile(changes: { name?: string; current_password?: string; new_password?: string }) {
      this.user = await api.put<User>('/auth/profile', changes)
      this.persist()
      return this.user
    },
  },
})

let refreshing: Promise<boolean> | null = null
