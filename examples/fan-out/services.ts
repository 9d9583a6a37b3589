/** Three lookups that resolve in reverse order of their branches, to show merging is by branch order. */
export function createProfileServices(delay: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))) {
  return {
    Accounts: { get: async (input: unknown) => (await delay(3), { name: `Customer ${(input as { id: string }).id}` }) },
    Orders: { recent: async () => (await delay(2), { count: 3 }) },
    Loyalty: { points: async () => (await delay(1), { points: 120 }) },
  };
}
