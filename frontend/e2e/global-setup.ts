// Starts the stack for the end-to-end tests (target/<profile>/e2e_stack, see its module doc) and
// hands its URLs and accounts to the tests through process.env. The returned function is the
// teardown: closing the stack's stdin stops it (and so does this process dying, whatever the way).
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '../..')

function stackBinary(): string {
  if (process.env.E2E_STACK_BIN) return process.env.E2E_STACK_BIN
  const target = process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target')
  // `make test` builds the debug binaries (whatever PROFILE says for `make run`).
  return path.join(target, 'debug', 'e2e_stack')
}

export default async function globalSetup() {
  const binary = stackBinary()
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run \`cargo build --workspace --bins\` (make test does)`)
  const dist = path.join(here, '..', 'dist')
  if (!existsSync(path.join(dist, 'index.html'))) throw new Error(`${dist} has no build: run \`npm run build\` (make frontend)`)
  mkdirSync(path.join(here, '..', 'test-results'), { recursive: true })
  const logPath = path.join(here, '..', 'test-results', 'e2e-stack.log')
  const log = createWriteStream(logPath)

  const child = spawn(binary, [dist], { stdio: ['pipe', 'pipe', 'pipe'] })
  child.stderr.pipe(log)
  const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let buffer = ''
    const timer = setTimeout(() => reject(new Error(`the e2e stack was not ready within 180 s; log: ${logPath}`)), 180_000)
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const line = buffer.split('\n').find((l) => l.startsWith('{'))
      if (line && buffer.includes('\n')) {
        clearTimeout(timer)
        resolve(JSON.parse(line))
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the e2e stack exited with ${code} before it was ready:\n${readTail(logPath)}`))
    })
  })
  process.env.E2E_STACK = JSON.stringify(info)
  process.env.E2E_BASE_URL = String(info.gateway_url)

  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.stdin.end()
    const timeout = setTimeout(() => child.kill('SIGTERM'), 60_000)
    await exited
    clearTimeout(timeout)
    log.end()
  }
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n')
  } catch {
    return ''
  }
}
