/**
 * Fits the demo's output to a terminal: every line it prints is at most {@link DEMO_COLUMNS}
 * columns. Text is broken at the last space that fits (one space is dropped, so joining the
 * pieces with a space gives the text back); a word longer than the width (a long path) is cut.
 */

/** The widest line the demo prints. */
export const DEMO_COLUMNS = 100

/** Columns a string takes (one per code point: the demo's symbols ✓ ✗ ↻ → ← are one wide). */
export function columns(text: string): number {
  return [...text].length
}

/**
 * Splits `text` (one paragraph per `\n`) into lines of at most `width` columns.
 *
 * @example
 * wrapText('a bb ccc', 4) // ['a bb', 'ccc']
 */
export function wrapText(text: string, width: number): string[] {
  if (!Number.isInteger(width) || width < 1) throw new TypeError(`width must be a positive integer: ${width}`)
  const lines: string[] = []
  for (const paragraph of text.split('\n')) {
    let rest = [...paragraph.trimEnd()]
    while (rest.length > width) {
      const space = rest.lastIndexOf(' ', width)
      const cut = space > 0 ? space : width
      lines.push(rest.slice(0, cut).join('').trimEnd())
      rest = rest.slice(space > 0 ? cut + 1 : cut)
    }
    lines.push(rest.join(''))
  }
  return lines
}

/**
 * `first` followed by `text`, wrapped to {@link DEMO_COLUMNS}; continuation lines start
 * with as many spaces as `first` is wide, so the text stays in its column.
 *
 * @example
 * hangingLines('  ✓ ', 'a long outcome …') // ['  ✓ a long …', '    outcome …']
 */
export function hangingLines(first: string, text: string): string[] {
  const indent = columns(first)
  const pieces = wrapText(text, Math.max(20, DEMO_COLUMNS - indent))
  return pieces.map((p, i) => `${i === 0 ? first : ' '.repeat(indent)}${p}`.trimEnd())
}
