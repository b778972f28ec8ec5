/**
 * One value per key object, made on first use and kept as long as the key lives (a WeakMap):
 * for what is built once per word list or per tokenizer and read at every step.
 */
export function memoizeOn<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const made = new WeakMap<K, V>();
  return (key) => {
    let value = made.get(key);
    if (value === undefined) {
      value = make(key);
      made.set(key, value);
    }
    return value;
  };
}
