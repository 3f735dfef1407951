import assert from 'node:assert/strict';

/** A well-formedness check for the SVG we generate: one <svg> root, every element closed in order. */
export function assertWellFormedSvg(svg: string): void {
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes something else`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}
