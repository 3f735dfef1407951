/** Reads one sample of a Prometheus text exposition whose labels include `label` (undefined when absent). */
export function sample(text: string, name: string, label = ''): number | undefined {
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(label));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}
