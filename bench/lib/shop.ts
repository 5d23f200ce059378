/** The shopper's and the sandbox's HTTP calls the benchmarks set up their data with. */

async function json<T>(response: Response, expected: number[]): Promise<T> {
  const text = await response.text();
  if (!expected.includes(response.status)) throw new Error(`${response.url}: HTTP ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

export async function login(serverUrl: string, sandboxUrl: string): Promise<string> {
  const { code } = await json<{ code: string }>(await post(`${sandboxUrl}/sandbox/wechat/codes`, {}), [201]);
  const { token } = await json<{ token: string }>(
    await post(`${serverUrl}/api/session`, { platform: 'weapp', code }),
    [200],
  );
  return token;
}

export async function createOrder(serverUrl: string, token: string): Promise<{ orderNo: string; amount: number }> {
  const { order } = await json<{ order: { orderNo: string; amount: number } }>(
    await post(
      `${serverUrl}/api/orders`,
      { items: [{ sku: 'ceramic-mug', quantity: 1 }] },
      { authorization: `Bearer ${token}` },
    ),
    [201],
  );
  return order;
}

export async function pay(serverUrl: string, token: string, orderNo: string): Promise<void> {
  await json(
    await post(`${serverUrl}/api/orders/${orderNo}/pay`, { platform: 'weapp' }, { authorization: `Bearer ${token}` }),
    [200],
  );
}

export async function billNoOf(sandboxUrl: string, notifyHost: string): Promise<string> {
  const { bills } = await json<{ bills: Array<{ bill_no: string; notify_url: string }> }>(
    await fetch(`${sandboxUrl}/sandbox/bills`),
    [200],
  );
  const bill = bills.reverse().find((candidate) => candidate.notify_url.startsWith(notifyHost));
  if (!bill) throw new Error('no bill in the sandbox');
  return bill.bill_no;
}

export async function settle(sandboxUrl: string, billNo: string, notify = true): Promise<void> {
  await json(await post(`${sandboxUrl}/sandbox/bills/${billNo}/settle`, { result: 'paid', notify }), [200]);
}

export async function statusOf(serverUrl: string, token: string, orderNo: string): Promise<string> {
  const answer = await json<{ status: string }>(
    await fetch(`${serverUrl}/api/orders/${orderNo}/status`, { headers: { authorization: `Bearer ${token}` } }),
    [200],
  );
  return answer.status;
}

export async function waitForStatus(serverUrl: string, token: string, orderNo: string, status: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await statusOf(serverUrl, token, orderNo)) !== status) {
    if (Date.now() > deadline) throw new Error(`order ${orderNo} never became ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
