import { it } from 'vitest';
import { startTestServer } from './support/server.js';
it('explore', async () => {
  const s = await startTestServer({ config: { logLevel: 'error' } });
  const body = `--XX\r\nContent-Disposition: form-data; name="file"; filename="a\u0000b.csv"\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\n\r\n--XX--\r\n`;
  const up3 = await fetch(`${s.url}/v1/files`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=XX' }, body });
  console.log('raw nul', up3.status, await up3.text());
  const up4 = await fetch(`${s.url}/v1/files`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=XX' }, body: '--XX\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nabc' });
  console.log('truncated multipart', up4.status, await up4.text());
  const up5 = await fetch(`${s.url}/v1/files`, { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'abc' });
  console.log('no boundary', up5.status, await up5.text());
  await s.close();
});
