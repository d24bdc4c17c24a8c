// node scripts/screens.js BASE OUTDIR — see scripts/screens.sh.
const { chromium } = require('playwright-core');
const [base, out] = [process.argv[2], process.argv[3]];
const WIDTHS = [[1366, 900], [390, 844]];
// ONLY=regex shoots just the pages whose name matches (a quick look while working)
const ONLY = process.env.ONLY ? new RegExp(process.env.ONLY) : null;
const ENTERPRISE = { login: '13900009999', password: 'screens-ent-pass-1' };

async function login(page, user, pass) {
  await page.goto(base + '/login');
  await page.fill('#login', user);
  await page.fill('#password', pass);
  await Promise.all([page.waitForNavigation(), page.click('main form button[type=submit]')]);
}

async function csrf(ctx) {
  const c = (await ctx.cookies()).find(c => c.name === 'pufa_csrf');
  return c ? c.value : '';
}

// an enterprise with a sign-up, and the demo recording's lecture once it is published
async function prepare(browser) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(base + '/');
  const headers = { 'x-csrf-token': await csrf(ctx) };
  let r = await page.request.post(base + '/api/v1/enterprises', { headers, data: {
    name: '示例截图科技有限公司', uscc: '91350100771234569D', industry: 'I', district: '示例区',
    contact_name: '示例联系人', mobile: ENTERPRISE.login, password: ENTERPRISE.password,
    privacy_consent: true } });
  if (r.status() !== 201) throw new Error('register: ' + r.status() + ' ' + await r.text());
  r = await page.request.post(base + '/api/v1/login', { headers, data: { login: ENTERPRISE.login, password: ENTERPRISE.password } });
  if (r.status() !== 200) throw new Error('login: ' + r.status());
  const program = (await (await page.request.get(base + '/api/v1/programs')).json())[0];
  const detail = await (await page.request.get(base + '/api/v1/programs/' + program.id)).json();
  const session = detail.sessions[1].id;
  r = await page.request.post(base + `/api/v1/sessions/${session}/registrations`, { headers, data: { seats: 2 } });
  if (r.status() !== 201) throw new Error('sign-up: ' + r.status());
  let lecture = null;
  for (let i = 0; i < 300 && !lecture; i++) {
    const html = await (await page.request.get(base + '/archive')).text();
    const m = html.match(/href="\/lectures\/(\d+)"/);
    if (m) lecture = m[1]; else await page.waitForTimeout(1000);
  }
  const me = await (await page.request.get(base + '/api/v1/me')).json();
  await ctx.close();
  return { program: program.id, session, first: detail.sessions[0].id, lecture, enterprise: me.id };
}

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const d = await prepare(browser);
  const roles = [
    ['visitor', null, [
      ['home', '/'], ['programs', '/programs'], ['program', `/programs/${d.program}`],
      ['session', `/sessions/${d.first}`], ['archive', '/archive'], ['qa', '/qa'],
      ['login', '/login'], ['register', '/register'], ['privacy', '/privacy'],
      ['claim', '/claims/new'], ['verify', '/certificates'],
      ...(d.lecture ? [['lecture-visitor', `/lectures/${d.lecture}`]] : []),
    ]],
    ['enterprise', [ENTERPRISE.login, ENTERPRISE.password], [
      ['me', '/me'], ['inbox', '/me/notifications'], ['profile', '/me/profile'],
      ['session-signed-up', `/sessions/${d.session}`], ['cancel-confirm', `/sessions/${d.session}/cancel`],
      ['checkup', '/checkup'], ['checkup-notice', '/checkup/notice'], ['questions', '/questions'],
      ['ask', '/questions/new'],
      ...(d.lecture ? [['lecture', `/lectures/${d.lecture}`]] : []),
    ]],
    ['organizer', ['admin', process.env.ADMIN_PW], [
      ['admin', '/admin'], ['enterprises', '/admin/enterprises'], ['program-admin', `/admin/programs/${d.program}`],
      ['attendance', `/admin/programs/${d.program}/attendance`], ['program-new', '/admin/programs/new'],
      ['program-edit', `/admin/programs/${d.program}/edit`], ['program-delete', `/admin/programs/${d.program}/delete`],
      ['lecturers', '/admin/lecturers'], ['sessions-admin', '/admin/sessions'], ['jobs', '/admin/jobs'],
      ['session-admin', `/admin/sessions/${d.session}`], ['live-admin', `/admin/sessions/${d.session}/live`],
      ['roster', `/sessions/${d.session}/roster`], ['signin-sheet', `/sessions/${d.session}/signin-sheet`],
      ['audit', '/admin/audit'], ['checkups', '/admin/checkups'], ['notifications', '/admin/notifications'],
      ['claims', '/admin/claims'], ['accounts', '/admin/accounts'], ['qa-admin', '/admin/qa'],
      ['advisors', '/admin/advisors'], ['loop', '/admin/loop'], ['planning', '/admin/planning'],
      ['followups', '/followups'], ['questions-admin', '/questions'], ['lawyers', '/lawyers'],
      ...(d.lecture ? [['lecture-stats', `/admin/lectures/${d.lecture}`], ['lecture-organizer', `/lectures/${d.lecture}`]] : []),
    ]],
  ];
  let wide = 0;
  for (const [w, h] of WIDTHS) {
    for (const [role, credentials, pages] of roles) {
      const ctx = await browser.newContext({ viewport: { width: w, height: h } });
      const page = await ctx.newPage();
      if (credentials) await login(page, credentials[0], credentials[1]);
      for (const [name, path] of pages) {
        if (ONLY && !ONLY.test(name)) continue;
        const r = await page.goto(base + path);
        await page.waitForLoadState('networkidle').catch(() => {});
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        const status = r ? r.status() : 0;
        if (overflow > 0) wide++;
        console.log(`${w}\t${role}\t${path}\t${status}${overflow > 0 ? '\tOVERFLOW ' + overflow + ' px' : ''}`);
        await page.screenshot({ path: `${out}/${name}-${w}.jpg`, fullPage: true, type: 'jpeg', quality: 60 });
      }
      await ctx.close();
    }
  }
  await browser.close();
  if (!d.lecture) console.log('the demo recording was not published in time: lecture pages left out');
  process.exit(wide > 0 ? 1 : 0);
})().catch(e => { console.error(e); process.exit(2); });
