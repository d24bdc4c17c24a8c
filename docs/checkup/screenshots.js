// Renders the reports of the calibration profiles (src/checkup/testdata/profiles.toml) as
// screenshots for docs/checkup/. Needs playwright-core and a running `pufa serve --demo`:
//
//   python3 -c 'import tomllib,json,sys; json.dump(tomllib.load(open(sys.argv[1],"rb")), sys.stdout, ensure_ascii=False)' \
//     src/checkup/testdata/profiles.toml > /tmp/profiles.json
//   NODE_PATH=/tmp/pw/node_modules node docs/checkup/screenshots.js http://127.0.0.1:PORT /tmp/profiles.json OUTDIR
//
// Each profile registers an enterprise, logs in (the session cookie stays in the browser
// context), submits the profile's answers (items it does not list are answered with their
// compliant option) and photographs the report 1366 px wide. It prints the finding counts.
const { chromium } = require('playwright-core');
const fs = require('fs');

const [base, profilesPath, outDir] = process.argv.slice(2);
const profiles = JSON.parse(fs.readFileSync(profilesPath, 'utf8')).profiles;
const uscc = ['91350100000000019E', '9135010000004242XH', '91350100000900009L'];

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  const q = await (await fetch(base + '/api/v1/checkup/questionnaire')).json();
  const shots = profiles.filter(p => p.screenshot);
  for (const [n, p] of shots.entries()) {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 2400 } });
    const api = ctx.request;
    const signup = await api.post(base + '/api/v1/enterprises', { data: {
      name: p.name, uscc: uscc[n], industry: p.industry, district: '示例区',
      contact_name: '示例联系人', mobile: `1390000${String(n + 1).padStart(4, '0')}`,
      password: 'enterprise-pass-1' } });
    if (signup.status() !== 201) throw new Error(`signup ${p.id}: ${signup.status()} ${await signup.text()}`);
    const login = await api.post(base + '/api/v1/login', { data: { login: uscc[n], password: 'enterprise-pass-1' } });
    if (!login.ok()) throw new Error(`login ${p.id}: ${login.status()}`);
    // the notice before starting must be confirmed where the server asks for it (404 before)
    await api.post(base + '/api/v1/checkup/consent');
    const answers = {};
    for (const item of q.items) {
      const list = item.applies_to.industries;
      if (list && !list.includes(p.industry)) continue;
      const given = p.answers[item.id];
      answers[item.id] = given || item.options.find(o => o.kind === 'compliant').id;
    }
    const r = await api.post(base + '/api/v1/checkup/submissions', { data: { answers } });
    if (r.status() !== 201) throw new Error(`submit ${p.id}: ${r.status()} ${await r.text()}`);
    const report = await r.json();
    const count = lvl => report.findings.filter(f => f.level === lvl).length;
    console.log(`${p.id} (${p.industry}): overall ${report.overall_level}, ${report.findings.length} findings ` +
      `(high ${count('high')}, medium ${count('medium')}, low ${count('low')}), red lines ${report.red_lines.length}, report #${report.report_id}`);
    const page = await ctx.newPage();
    await page.goto(`${base}/checkup/reports/${report.report_id}`);
    await page.screenshot({ path: `${outDir}/report-${p.id}.png`, fullPage: false });
    await ctx.close();
  }
  await browser.close();
})().catch(e => { console.error(e); process.exit(1); });
