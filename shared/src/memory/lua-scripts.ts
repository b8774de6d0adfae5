import { readFileSync } from "node:fs";

/** Lua scripts live in shared/lua/*.lua (each with a KEYS/ARGV/reply header), read once per process. */
export function luaScript(name: string): string {
  return readFileSync(new URL(`../../lua/${name}.lua`, import.meta.url), "utf8");
}
