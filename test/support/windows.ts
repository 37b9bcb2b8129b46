/** The most of `times` (ms) that fall within one window of `windowMs`, sliding over them. */
export function peakPerWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= windowMs) j++
    most = Math.max(most, i - j + 1)
  }
  return most
}
