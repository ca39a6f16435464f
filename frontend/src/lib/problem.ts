// Errors from the API are RFC 7807 problem+json: {type, title, status, detail, code, request_id,
// errors?: [{field, message}]}. ApiError carries them, plus a sentence a shopper can read.

export interface FieldError {
  field: string
  message: string
}

export interface Problem {
  type?: string
  title?: string
  status?: number
  detail?: string
  code?: string
  request_id?: string
  errors?: FieldError[]
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly problem: Problem
  /** Field name → message, for forms. */
  readonly fields: Record<string, string>
  readonly retryAfter: number | null

  constructor(status: number, problem: Problem, retryAfter: number | null = null) {
    super(humanMessage(status, problem, retryAfter))
    this.name = 'ApiError'
    this.status = status
    this.code = problem.code ?? (status === 0 ? 'network_error' : `http_${status}`)
    this.problem = problem
    this.retryAfter = retryAfter
    this.fields = {}
    for (const error of problem.errors ?? []) {
      if (error && typeof error.field === 'string' && !(error.field in this.fields)) {
        this.fields[error.field] = error.message
      }
    }
  }
}

/** Words for the codes a shopper meets; anything else uses the service's own `detail`. */
const MESSAGES: Record<string, string> = {
  forbidden: 'You do not have access to this page.',
  cart_not_found: 'Your cart has expired. Please add the items again.',
  line_not_found: 'That item is no longer in your cart.',
  product_not_found: 'This product is no longer available.',
  product_unavailable: 'This product is not for sale right now.',
  cart_full: 'Your cart is full (100 different items at most).',
  currency_mismatch: 'This product is priced in another currency than your cart. Check out first, or empty the cart.',
  service_unavailable: 'The shop is busy right now. Please try again in a moment.',
  gateway_timeout: 'The shop took too long to answer. Please try again.',
  network_error: 'Cannot reach the shop. Check your connection and try again.',
}

function humanMessage(status: number, problem: Problem, retryAfter: number | null): string {
  const code = problem.code ?? ''
  if (status === 429 || code === 'rate_limited' || code === 'too_many_requests') {
    return retryAfter
      ? `Too many attempts. Please wait ${retryAfter} seconds and try again.`
      : 'Too many attempts. Please wait a little and try again.'
  }
  if (code === 'validation_failed' && problem.errors?.length) {
    return 'Please correct the highlighted fields.'
  }
  if (code && MESSAGES[code]) return MESSAGES[code]
  if (status === 0) return MESSAGES.network_error
  if (status >= 500) return status === 504 ? MESSAGES.gateway_timeout : MESSAGES.service_unavailable
  if (status === 401) return problem.detail ? sentence(problem.detail) : 'Please sign in to continue.'
  if (status === 403) return MESSAGES.forbidden
  if (problem.detail) return sentence(problem.detail)
  if (problem.title) return sentence(problem.title)
  return `Something went wrong (HTTP ${status}).`
}

function sentence(text: string): string {
  const trimmed = text.trim()
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
}

/** Builds an ApiError from a failed response's status, content type and body text. */
export function parseProblem(status: number, contentType: string | null, body: string, retryAfter?: string | null): ApiError {
  let problem: Problem = {}
  if (body && /json/i.test(contentType ?? '')) {
    try {
      const parsed: unknown = JSON.parse(body)
      if (parsed && typeof parsed === 'object') problem = parsed as Problem
    } catch {
      // not JSON after all: fall back to the status
    }
  }
  const seconds = retryAfter ? Number.parseInt(retryAfter, 10) : NaN
  return new ApiError(status, problem, Number.isFinite(seconds) ? seconds : null)
}

/** A message for anything caught: ApiError's words, or a generic sentence. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message
  if (error instanceof Error && error.name === 'AbortError') return 'The request was cancelled.'
  return 'Something went wrong. Please try again.'
}
