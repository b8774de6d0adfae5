/** A repository path pattern: `*` stays within one path segment, `**` crosses segments. */
export function globToRegExp(pattern: string): RegExp {
  const source = pattern
    .split("**")
    .map((part) => part.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*"))
    .join(".*");
  return new RegExp(`^${source}$`);
}
