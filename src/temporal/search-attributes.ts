/**
 * mlpipe's custom search attributes. The dev server registers them at start (`--search-attribute`),
 * cluster mode registers them once with the admin tools (docker-compose.yml). The typed keys live
 * in workflows/api.ts (shared by client and workflow); this is the list the server needs.
 */
export const MLPIPE_SEARCH_ATTRIBUTES: Record<string, 'Keyword'> = {
  MlpipePipeline: 'Keyword',
  MlpipeGitSha: 'Keyword',
  MlpipePlanHash: 'Keyword',
  MlpipeTrigger: 'Keyword',
};

export function searchAttributeFlags(): string[] {
  return Object.entries(MLPIPE_SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}
