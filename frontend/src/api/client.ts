// The one place that talks HTTP to the gateway: same origin, root paths (/products, /cart...).
// It adds the bearer token and the guest cart token, refreshes an expired access token once,
// and turns every failure into an ApiError (problem+json) with words for people.
import { ApiError, parseProblem } from '../lib/problem'

export interface ClientHooks {
  accessToken(): string | null
  /** Gets a new access token with the refresh token; false when the session is over. */
  refresh(): Promise<boolean>
  cartToken(): string | null
  /** A guest cart was created: the response carried its token. */
  cartTokenIssued(token: string): void
}

let hooks: ClientHooks = {
  accessToken: () => null,
  refresh: async () => false,
  cartToken: () => null,
  cartTokenIssued: () => {},
}

export function configureClient(next: ClientHooks): void {
  hooks = next
}

export type Query = Record<string, string | number | boolean | null | undefined>

export interface RequestOptions {
  query?: Query
  body?: unknown
  headers?: Record<string, string>
  /** Send the guest cart token (cart and checkout calls). */
  cart?: boolean
  /** Send no bearer token (login, register, refresh). */
  anonymous?: boolean
  signal?: AbortSignal
}

export interface Reply<T> {
  status: number
  data: T
  headers: Headers
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value))
  }
  const text = params.toString()
  return text ? `${path}?${text}` : path
}

async function send<T>(method: string, path: string, options: RequestOptions, retried: boolean): Promise<Reply<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers }
  const access = options.anonymous ? null : hooks.accessToken()
  if (access) headers.authorization = `Bearer ${access}`
  if (options.cart) {
    const token = hooks.cartToken()
    if (token) headers['x-cart-token'] = token
  }
  let body: string | undefined
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  let response: Response
  try {
    response = await fetch(withQuery(path, options.query), { method, headers, body, signal: options.signal })
  } catch (error) {
    if (error instanceof Error && error.name === 'AbortError') throw error
    throw new ApiError(0, {})
  }
  const issued = response.headers.get('x-cart-token')
  if (issued) hooks.cartTokenIssued(issued)

  if (response.status === 401 && access && !retried && (await hooks.refresh())) {
    return send<T>(method, path, options, true)
  }
  const text = await response.text()
  if (!response.ok) {
    throw parseProblem(response.status, response.headers.get('content-type'), text, response.headers.get('retry-after'))
  }
  let data = undefined as T
  if (text && /json/i.test(response.headers.get('content-type') ?? '')) data = JSON.parse(text) as T
  return { status: response.status, data, headers: response.headers }
}

export const api = {
  request<T>(method: string, path: string, options: RequestOptions = {}): Promise<Reply<T>> {
    return send<T>(method, path, options, false)
  },
  async get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return (await send<T>('GET', path, options, false)).data
  },
  async post<T>(path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return (await send<T>('POST', path, { ...options, body }, false)).data
  },
  async put<T>(path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return (await send<T>('PUT', path, { ...options, body }, false)).data
  },
  async del<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return (await send<T>('DELETE', path, options, false)).data
  },
}
