import 'reflect-metadata';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { IsEmail, IsOptional, IsString, validate } from 'class-validator';
import {
  BoundedString,
  HostnameOrIp,
  isHostnameOrIp,
  LowerCased,
  SafeUsername,
  SanitizedHtml,
  sanitizeRichText,
  StrictInt,
  StrongPassword,
} from './decorators.js';

/** The validation preset's class-validator options (see security-validation.pipe.ts). */
const PRESET = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
} as const;

/** Transforms then validates like the pipe: the instance and `{ property: messages }` of what failed. */
async function check<T extends object>(cls: ClassConstructor<T>, plain: Record<string, unknown>) {
  const instance = plainToInstance(cls, plain, { enableImplicitConversion: false });
  const errors = await validate(instance, PRESET);
  const failures = Object.fromEntries(errors.map((error) => [error.property, Object.values(error.constraints ?? {})]));
  return { instance, failures };
}

class UserDto {
  @SafeUsername()
  username!: string;
}

class ShortNameDto {
  @SafeUsername({ min: 5, max: 8 })
  name!: string;
}

class PingDto {
  @HostnameOrIp()
  host!: string;
}

class TitleDto {
  @BoundedString(2, 5)
  title!: string;
}

class EmailDto {
  @LowerCased()
  @IsEmail()
  email!: string;
}

class PageDto {
  @StrictInt({ min: 0, max: 150 })
  limit!: number;
}

class NoteDto {
  @SanitizedHtml()
  @IsString()
  body!: string;
}

class PasswordDto {
  @IsOptional()
  @StrongPassword()
  password?: string;
}

describe('SafeUsername', () => {
  it.each(['abc', 'alice_01', 'ALICE', '___', 'a'.repeat(50)])('accepts %j', async (username) => {
    expect((await check(UserDto, { username })).failures).toEqual({});
  });

  it.each([
    'ab',
    'a'.repeat(51),
    '',
    'al ice',
    'alice;',
    "alice'--",
    'élodie',
    'alice\n',
    'alice-01',
    123,
    ['alice'],
    { $gt: '' },
    null,
  ])('refuses %j with one message that never quotes the value', async (username) => {
    expect((await check(UserDto, { username })).failures).toEqual({
      username: ['username must be 3 to 50 letters, digits or underscores'],
    });
  });

  it('takes other bounds', async () => {
    expect((await check(ShortNameDto, { name: 'abcde' })).failures).toEqual({});
    expect((await check(ShortNameDto, { name: 'abcd' })).failures.name).toEqual([
      'name must be 5 to 8 letters, digits or underscores',
    ]);
    expect((await check(ShortNameDto, { name: 'abcdefghi' })).failures.name).toBeDefined();
  });

  it('refuses impossible bounds when the class is defined', () => {
    expect(() => SafeUsername({ min: 10, max: 5 })).toThrow(RangeError);
    expect(() => SafeUsername({ min: -1 })).toThrow(RangeError);
  });

  it('refuses unknown fields next to it (whitelist preset)', async () => {
    expect((await check(UserDto, { username: 'alice', isAdmin: true })).failures).toEqual({
      isAdmin: ['property isAdmin should not exist'],
    });
  });
});

describe('HostnameOrIp', () => {
  it.each([
    '127.0.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '::1',
    '2001:db8::1',
    '::ffff:127.0.0.1',
    'localhost',
    'example.com',
    'EXAMPLE.COM',
    'a-b.example',
    'xn--bcher-kva.example',
    '1password.com',
    'host1',
    `${'a'.repeat(63)}.example`,
    [...Array<string>(4).fill('a'.repeat(62)), 'b'].join('.'), // 253 characters
  ])('accepts %j', async (host) => {
    expect(isHostnameOrIp(host)).toBe(true);
    expect((await check(PingDto, { host })).failures).toEqual({});
  });

  it.each([
    'example.com; rm -rf /',
    'example.com && id',
    'example.com | nc evil 1',
    '`id`',
    '$(id)',
    '${IFS}',
    'example.com\n',
    'example.com\nid',
    '-c',
    '-c1 127.0.0.1',
    '--help',
    '-example.com',
    'example-.com',
    'example.com.',
    '.example.com',
    'a..b',
    'ex_ample.com',
    'exa mple.com',
    ' 127.0.0.1',
    '127.0.0.1 ',
    '',
    'fe80::1%eth0',
    '[::1]',
    '::1/128',
    '256.1.1.1',
    '01.2.3.4',
    '127.1',
    '2130706433',
    '0x7f.1',
    '0x7f000001',
    '0x7f.0x0.0x0.0x1',
    '1.2.3.4.5',
    'example.123',
    `${'a'.repeat(64)}.example`,
    [...Array<string>(4).fill('a'.repeat(62)), 'bc'].join('.'), // 254 characters
  ])('refuses %j', async (host) => {
    expect(isHostnameOrIp(host)).toBe(false);
    expect((await check(PingDto, { host })).failures).toEqual({ host: ['host must be a hostname or an IP address'] });
  });

  it.each([[2130706433], [['127.0.0.1']], [{ $ne: '' }], [null]])('refuses the non-string %j', async (host) => {
    expect((await check(PingDto, { host })).failures.host).toBeDefined();
  });
});

describe('BoundedString', () => {
  it.each(['ab', 'abcde', '😀😀😀😀😀', 'e\u0301e'])('accepts %j, counting code points', async (title) => {
    expect((await check(TitleDto, { title })).failures).toEqual({});
  });

  it.each(['a', 'é', 'abcdef', '😀😀😀😀😀😀', '😀', ''])('refuses %j', async (title) => {
    expect((await check(TitleDto, { title })).failures).toEqual({
      title: ['title must be 2 to 5 characters long, without control characters'],
    });
  });

  it.each(['a\u0000b', 'ab\u001b', '\u007fab', 'a\u0008c'])('refuses the control character in %j', async (title) => {
    expect((await check(TitleDto, { title })).failures).toEqual({
      title: ['title must be 2 to 5 characters long, without control characters'],
    });
  });

  it.each(['a\tb', 'a\nb', 'a\r\nb'])('accepts tab, line feed and carriage return in %j', async (title) => {
    expect((await check(TitleDto, { title })).failures).toEqual({});
  });

  it.each([[42], [['ab']], [{ $gt: '' }]])('refuses the non-string %j once, as not a string', async (title) => {
    expect((await check(TitleDto, { title })).failures).toEqual({ title: ['title must be a string'] });
  });

  it('refuses impossible bounds when the class is defined', () => {
    expect(() => BoundedString(5, 2)).toThrow(RangeError);
    expect(() => BoundedString(0, 1.5)).toThrow(RangeError);
  });
});

describe('LowerCased', () => {
  it('lower-cases a string before validation', async () => {
    const { instance, failures } = await check(EmailDto, { email: 'Alice@Example.COM' });
    expect(failures).toEqual({});
    expect(instance.email).toBe('alice@example.com');
  });

  it('leaves a non-string for the validators to refuse', async () => {
    const { instance, failures } = await check(EmailDto, { email: { $gt: '' } });
    expect(instance.email).toEqual({ $gt: '' });
    expect(failures.email).toEqual(['email must be an email']);
  });
});

describe('StrictInt', () => {
  it.each([
    ['42', 42],
    ['0', 0],
    ['150', 150],
    [7, 7],
  ])('turns %j into %j', async (limit, expected) => {
    const { instance, failures } = await check(PageDto, { limit });
    expect(failures).toEqual({});
    expect(instance.limit).toBe(expected);
  });

  it.each(['0x10', '1e3', ' 1', '1 ', '', '1.5', '+1', '1_000', '١٢', 'NaN', 'Infinity', '1234567890123456'])(
    'leaves the string %j as it is, refused',
    async (limit) => {
      const { instance, failures } = await check(PageDto, { limit });
      expect(instance.limit).toBe(limit);
      expect(failures.limit).toContain('limit must be an integer number');
    },
  );

  it.each([[['1']], [{ $gt: 0 }], [true], [1.5]])('refuses %j', async (limit) => {
    const { instance, failures } = await check(PageDto, { limit });
    expect(instance.limit).toEqual(limit);
    expect(failures.limit).toContain('limit must be an integer number');
  });

  it('applies the bounds after the conversion', async () => {
    expect((await check(PageDto, { limit: '151' })).failures.limit).toEqual(['limit must not be greater than 150']);
    expect((await check(PageDto, { limit: '-1' })).failures.limit).toEqual(['limit must not be less than 0']);
  });
});

describe('sanitizeRichText', () => {
  it('removes NUL and other control characters, keeping line breaks', () => {
    expect(sanitizeRichText('<b>a\u0000b</b>\u001b[31m\nc')).toBe('<b>ab</b>[31m\nc');
  });

  it.each([
    ['<b>bold</b> <i>it</i> <em>e</em> <strong>s</strong>', '<b>bold</b> <i>it</i> <em>e</em> <strong>s</strong>'],
    ['<p>a<br />b</p><ul><li>x</li></ul><ol><li>y</li></ol>', '<p>a<br />b</p><ul><li>x</li></ul><ol><li>y</li></ol>'],
    [
      '<pre><code>x &lt; 1</code></pre><blockquote>q</blockquote>',
      '<pre><code>x &lt; 1</code></pre><blockquote>q</blockquote>',
    ],
    ['<script>alert(1)</script>hi', 'hi'],
    ['<style>body{}</style>hi', 'hi'],
    ['<img src=x onerror=alert(1)>', ''],
    ['<svg onload=alert(1)><circle/></svg>ok', 'ok'],
    ['<iframe src="https://evil.example"></iframe>', ''],
    ['<p onclick="x()" style="color:red" class="c">t</p>', '<p>t</p>'],
    ['<div><span>kept text</span></div>', 'kept text'],
    ['<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'],
    ['<a href="JaVaScRiPt&#58;alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'],
    ['<a href="data:text/html,<script>x</script>">x</a>', '<a rel="noopener noreferrer">x</a>'],
    ['<a href="//evil.example/">x</a>', '<a rel="noopener noreferrer">x</a>'],
    [
      '<a href="https://example.com/" rel="opener" target="_blank" onclick="x()">x</a>',
      '<a href="https://example.com/" rel="noopener noreferrer">x</a>',
    ],
    ['<a href="mailto:a@example.com">m</a>', '<a href="mailto:a@example.com" rel="noopener noreferrer">m</a>'],
    ['<a href="http://example.com">h</a>', '<a href="http://example.com" rel="noopener noreferrer">h</a>'],
  ])('sanitises %j', (html, expected) => {
    expect(sanitizeRichText(html)).toBe(expected);
  });

  it('takes options that replace the defaults', () => {
    expect(sanitizeRichText('<b>x</b><i>y</i>', { allowedTags: ['b'] })).toBe('<b>x</b>y');
    // The defaults are not changed by a call with options.
    expect(sanitizeRichText('<b>x</b><i>y</i>')).toBe('<b>x</b><i>y</i>');
  });
});

describe('SanitizedHtml', () => {
  it('sanitises a string field', async () => {
    const { instance, failures } = await check(NoteDto, { body: '<p>hi<script>steal()</script></p>' });
    expect(failures).toEqual({});
    expect(instance.body).toBe('<p>hi</p>');
  });

  it('leaves a non-string for the validators to refuse', async () => {
    const { instance, failures } = await check(NoteDto, { body: ['<b>x</b>'] });
    expect(instance.body).toEqual(['<b>x</b>']);
    expect(failures.body).toEqual(['body must be a string']);
  });
});

describe('StrongPassword', () => {
  it.each(['correct horse battery staple', 'Tr0ub4dor&3xyz', '€'.repeat(12)])('accepts %j', async (password) => {
    expect((await check(PasswordDto, { password })).failures).toEqual({});
  });

  it.each(['short', 'elevenchars', 'qwerty123456', 'QWERTY123456', '1qaz2wsx3edc', '😀'.repeat(11), 12345678901234])(
    'refuses %j without quoting it',
    async (password) => {
      const { failures } = await check(PasswordDto, { password });
      expect(failures).toEqual({ password: ['password must be at least 12 characters and not a common password'] });
    },
  );

  it('says why a too-long password is refused', async () => {
    const password = 'x'.repeat(257);
    expect((await check(PasswordDto, { password })).failures).toEqual({
      password: ['password must be at most 256 characters'],
    });
    expect((await check(PasswordDto, { password: 'y'.repeat(256) })).failures).toEqual({});
  });
});
