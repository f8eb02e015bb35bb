/** The explorer page (placeholder replaced by the full page in explorer.html.ts). */
export function explorerHtml(): string {
  return '<!doctype html><title>Covenant explorer</title><h1>Covenant</h1>'
}
