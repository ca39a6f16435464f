/** Image URLs worth asking the network for: hosts under the reserved `.example`/`.invalid` TLDs
 * (RFC 2606; the demo catalogue uses images.shop.example) never resolve, so they are skipped
 * rather than logged as failed loads on every page. */
export function usableImages(urls: string[]): string[] {
  return urls.filter((url) => {
    try {
      const host = new URL(url, window.location.href).hostname
      return !/\.(example|invalid)$/i.test(host)
    } catch {
      return false
    }
  })
}
