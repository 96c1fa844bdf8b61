import t from 'tap'
import { BusinessHours, businessHoursSchema, parseRange, type BusinessHoursInput } from '../../lib/agent/business-hours.ts'

function hours (input: Partial<BusinessHoursInput> & { weekly?: Partial<BusinessHoursInput['weekly']> }): BusinessHours {
  return new BusinessHours(businessHoursSchema.parse({ timezone: 'Europe/Rome', ...input, weekly: { ...input.weekly } }))
}

const at = (iso: string): Date => new Date(iso)
const iso = (d: Date | undefined): string | undefined => d?.toISOString()

const office = hours({
  weekly: {
    mon: ['09:00-13:00', '14:00-18:00'],
    tue: ['09:00-13:00', '14:00-18:00'],
    wed: ['09:00-13:00', '14:00-18:00'],
    thu: ['09:00-13:00', '14:00-18:00'],
    fri: ['09:00-13:00', '14:00-18:00'],
    sat: ['09:00-12:00'],
  },
  closed: ['12-25', '2025-12-26'],
  special: { '2025-12-24': ['09:00-12:00'], '2025-06-02': [] },
})

t.test('weekly schedule with two ranges a day (Rome, winter: UTC+1)', async (t) => {
  // Monday 2025-01-13.
  t.equal(office.isOpen(at('2025-01-13T07:59:59Z')), false, '08:59:59 closed')
  t.equal(office.isOpen(at('2025-01-13T08:00:00Z')), true, '09:00 open')
  t.equal(office.isOpen(at('2025-01-13T11:59:59.999Z')), true, '12:59:59.999 open')
  t.equal(office.isOpen(at('2025-01-13T12:00:00Z')), false, '13:00 lunch')
  t.equal(office.isOpen(at('2025-01-13T13:00:00Z')), true, '14:00 open')
  t.equal(office.isOpen(at('2025-01-13T17:00:00Z')), false, '18:00 closed')
  t.equal(office.isOpen(at('2025-01-19T10:00:00Z')), false, 'Sunday closed')

  t.equal(iso(office.nextChange(at('2025-01-13T07:00:00Z'))), '2025-01-13T08:00:00.000Z', 'opens at 09:00')
  t.equal(iso(office.nextChange(at('2025-01-13T08:00:00Z'))), '2025-01-13T12:00:00.000Z', 'at the opening instant the next change is lunch')
  t.equal(iso(office.nextChange(at('2025-01-13T12:30:00Z'))), '2025-01-13T13:00:00.000Z')
  t.equal(iso(office.nextChange(at('2025-01-17T18:00:00Z'))), '2025-01-18T08:00:00.000Z', 'Friday evening -> Saturday 09:00')
  t.equal(iso(office.nextChange(at('2025-01-18T11:00:00Z'))), '2025-01-20T08:00:00.000Z', 'Saturday noon -> Monday 09:00')
})

t.test('summer time: the same local hours are an hour earlier in UTC', async (t) => {
  t.equal(office.isOpen(at('2025-07-14T07:00:00Z')), true, 'Monday 09:00 CEST')
  t.equal(office.isOpen(at('2025-07-14T16:00:00Z')), false, 'Monday 18:00 CEST')
})

t.test('closed dates, yearly holidays and special hours', async (t) => {
  t.equal(office.isOpen(at('2025-12-24T10:00:00Z')), true, 'Christmas Eve 11:00 (special hours)')
  t.equal(office.isOpen(at('2025-12-24T14:00:00Z')), false, 'Christmas Eve 15:00 (special hours end at 12)')
  t.equal(office.isOpen(at('2025-12-25T10:00:00Z')), false, 'Christmas (every year)')
  t.equal(office.isOpen(at('2026-12-25T10:00:00Z')), false, 'Christmas next year too')
  t.equal(office.isOpen(at('2025-12-26T10:00:00Z')), false, 'St Stephen 2025 (once)')
  t.equal(office.isOpen(at('2025-06-02T08:00:00Z')), false, 'a special day with no hours is closed')
  t.equal(iso(office.nextChange(at('2025-12-24T12:00:00Z'))), '2025-12-27T08:00:00.000Z', 'after the holidays, Saturday 09:00')
})

t.test('Europe/Rome spring forward (2025-03-30, 02:00 CET -> 03:00 CEST)', async (t) => {
  const morning = hours({ weekly: { sat: ['09:00-12:00'], sun: ['09:00-12:00'] } })
  t.equal(iso(morning.nextChange(at('2025-03-29T11:00:00Z'))), '2025-03-30T07:00:00.000Z', 'Sunday 09:00 is 07:00Z after the change')
  t.equal(iso(morning.nextChange(at('2025-03-30T07:00:00Z'))), '2025-03-30T10:00:00.000Z')

  const earlyClose = hours({ weekly: { sun: ['01:00-02:30'] } })
  t.equal(earlyClose.isOpen(at('2025-03-30T00:30:00Z')), true, '01:30 CET open')
  t.equal(iso(earlyClose.nextChange(at('2025-03-30T00:30:00Z'))), '2025-03-30T01:00:00.000Z',
    'closes at the jump: local time goes from 01:59 to 03:00, past 02:30')

  const inTheGap = hours({ weekly: { sun: ['02:30-04:00'] } })
  t.equal(iso(inTheGap.nextChange(at('2025-03-30T00:00:00Z'))), '2025-03-30T01:00:00.000Z', 'opens at 03:00 CEST, the first instant past 02:30')
  t.equal(iso(inTheGap.nextChange(at('2025-03-30T01:00:00Z'))), '2025-03-30T02:00:00.000Z', 'closes at 04:00 CEST')

  const wholeGap = hours({ weekly: { sun: ['02:10-02:50'] } })
  t.equal(iso(wholeGap.nextChange(at('2025-03-29T12:00:00Z'))), '2025-04-06T00:10:00.000Z', 'a range inside the missing hour never happens that day')
})

t.test('Europe/Rome fall back (2025-10-26, 03:00 CEST -> 02:00 CET)', async (t) => {
  const night = hours({ weekly: { sun: ['01:00-02:30'] } })
  const chain: string[] = []
  let d: Date | undefined = at('2025-10-25T22:00:00Z')
  for (let i = 0; i < 4 && d !== undefined; i++) {
    d = night.nextChange(d)
    if (d !== undefined) chain.push(iso(d) ?? '')
  }
  t.strictSame(chain, [
    '2025-10-25T23:00:00.000Z', // 01:00 CEST opens
    '2025-10-26T00:30:00.000Z', // 02:30 CEST closes
    '2025-10-26T01:00:00.000Z', // the clock goes back to 02:00 CET: open again
    '2025-10-26T01:30:00.000Z', // 02:30 CET closes
  ])
  const morning = hours({ weekly: { sun: ['09:00-12:00'] } })
  t.equal(iso(morning.nextChange(at('2025-10-25T12:00:00Z'))), '2025-10-26T08:00:00.000Z', 'Sunday 09:00 is 08:00Z after the change')
})

t.test('ranges that meet at midnight do not close at midnight', async (t) => {
  const late = hours({ weekly: { fri: ['20:00-24:00'], sat: ['00:00-02:00'] } })
  t.equal(late.isOpen(at('2025-01-17T22:59:59Z')), true, 'Friday 23:59:59')
  t.equal(late.isOpen(at('2025-01-17T23:00:00Z')), true, 'Saturday 00:00')
  t.equal(iso(late.nextChange(at('2025-01-17T20:00:00Z'))), '2025-01-18T01:00:00.000Z', 'Saturday 02:00')
})

t.test('never open and always open have no next change', async (t) => {
  const never = hours({})
  t.equal(never.isOpen(at('2025-01-13T10:00:00Z')), false)
  t.equal(never.nextChange(at('2025-01-13T10:00:00Z')), undefined)
  const all = ['00:00-24:00']
  const always = hours({ weekly: { mon: all, tue: all, wed: all, thu: all, fri: all, sat: all, sun: all } })
  t.equal(always.isOpen(at('2025-03-30T01:30:00Z')), true, 'open through the DST jump')
  t.equal(always.nextChange(at('2025-03-29T10:00:00Z')), undefined)
})

t.test('a once-a-year opening is found', async (t) => {
  const yearly = hours({ special: { '2026-01-10': ['10:00-11:00'] } })
  t.equal(iso(yearly.nextChange(at('2025-02-01T00:00:00Z'))), '2026-01-10T09:00:00.000Z')
})

t.test('other timezones: New York spring forward (2025-03-09)', async (t) => {
  const ny = new BusinessHours(businessHoursSchema.parse({ timezone: 'America/New_York', weekly: { sun: ['09:00-17:00'] } }))
  t.equal(iso(ny.nextChange(at('2025-03-09T05:00:00Z'))), '2025-03-09T13:00:00.000Z', '09:00 EDT')
  t.equal(iso(ny.nextChange(at('2025-03-02T05:00:00Z'))), '2025-03-02T14:00:00.000Z', '09:00 EST a week earlier')
})

t.test('localTime', async (t) => {
  t.strictSame(office.localTime(at('2025-03-30T01:05:00Z')), { date: '2025-03-30', weekday: 'sun', time: '03:05', timezone: 'Europe/Rome' })
  t.strictSame(office.localTime(at('2025-12-31T23:30:00Z')), { date: '2026-01-01', weekday: 'thu', time: '00:30', timezone: 'Europe/Rome' })
})

t.test('config validation', async (t) => {
  t.strictSame(parseRange('09:00-13:00'), [540, 780])
  t.strictSame(parseRange('20:00-24:00'), [1200, 1440])
  for (const bad of ['18:00-09:00', '09:00-09:00', '25:00-26:00', '9:00-13:00', '09:00-24:30', '']) {
    t.equal(parseRange(bad), undefined, bad)
  }
  const bad: Array<[unknown, string]> = [
    [{ timezone: 'Mars/Olympus', weekly: {} }, 'timezone'],
    [{ timezone: 'Europe/Rome', weekly: { monday: ['09:00-13:00'] } }, 'weekly'],
    [{ timezone: 'Europe/Rome', weekly: { mon: ['22:00-02:00'] } }, 'weekly.mon.0'],
    [{ timezone: 'Europe/Rome', weekly: {}, closed: ['25/12'] }, 'closed.0'],
    [{ timezone: 'Europe/Rome', weekly: {}, special: { tomorrow: [] } }, 'special.tomorrow'],
    [{ weekly: {} }, 'timezone'],
  ]
  for (const [input, path] of bad) {
    const result = businessHoursSchema.safeParse(input)
    t.equal(result.success, false, `rejects ${JSON.stringify(input)}`)
    t.equal(result.error?.issues[0]?.path.join('.'), path, `names ${path}`)
  }
})
