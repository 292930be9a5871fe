import { InvalidInputError } from '../../core/errors.js';
import { scalarFilter } from './document-filter.js';

function refusal(run: () => unknown): InvalidInputError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error('expected an InvalidInputError');
}

describe('scalarFilter', () => {
  it('wraps every scalar in $eq, on a null-prototype object', () => {
    const filter = scalarFilter({ username: 'alice', age: 42, active: true, department: null });
    expect(filter).toEqual({
      username: { $eq: 'alice' },
      age: { $eq: 42 },
      active: { $eq: true },
      department: { $eq: null },
    });
    expect(Object.getPrototypeOf(filter)).toBeNull();
  });

  it('keeps an operator-looking string a string', () => {
    expect(scalarFilter({ password: '{"$gt":""}' }).password).toEqual({ $eq: '{"$gt":""}' });
  });

  it('leaves undefined fields out', () => {
    expect(Object.keys(scalarFilter({ username: 'alice', department: undefined }))).toEqual(['username']);
  });

  it.each([
    ['an operator object', { $gt: '' }],
    ['a $ne operator', { $ne: null }],
    ['a $where operator', { $where: 'sleep(1000)' }],
    ['an array', ['alice']],
    ['an empty object', {}],
    ['a date', new Date(0)],
    ['a function', () => 'alice'],
    ['a symbol', Symbol('alice')],
    ['a bigint', 1n],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
  ])('refuses %s where a value is expected', (_, value) => {
    const error = refusal(() => scalarFilter({ username: 'alice', password: value }));
    expect(error.invalidParams).toEqual([{ name: 'password', reason: 'must be a single value' }]);
  });

  it.each(['$where', '$gt', 'a.b', 'profile.role', '', '1st', 'user-name', 'naïve', 'a b', `a${'b'.repeat(64)}`])(
    'refuses the field name %j',
    (name) => {
      const error = refusal(() => scalarFilter({ [name]: 'x' }));
      expect(error.invalidParams).toEqual([{ name: name.slice(0, 64), reason: 'is not an accepted field' }]);
    },
  );

  it('refuses forbidden keys as field names, even as own properties', () => {
    const fields = JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, unknown>;
    expect(refusal(() => scalarFilter(fields)).invalidParams.map((param) => param.name)).toEqual([
      '__proto__',
      'constructor',
    ]);
  });

  it('accepts names up to 64 characters', () => {
    const name = `a${'b'.repeat(63)}`;
    expect(scalarFilter({ [name]: 1 })[name]).toEqual({ $eq: 1 });
  });

  it('accepts only allowedFields when given', () => {
    expect(scalarFilter({ email: 'a@example.com' }, { allowedFields: ['email', 'username'] })).toEqual({
      email: { $eq: 'a@example.com' },
    });
    const error = refusal(() => scalarFilter({ email: 'a@example.com', isAdmin: true }, { allowedFields: ['email'] }));
    expect(error.invalidParams).toEqual([{ name: 'isAdmin', reason: 'is not an accepted field' }]);
  });

  it('names every refused field at once, and never the value', () => {
    const error = refusal(() => scalarFilter({ username: { $gt: '' }, password: { $ne: 'secret-value' }, ok: 1 }));
    expect(error.invalidParams.map((param) => param.name)).toEqual(['username', 'password']);
    expect(JSON.stringify(error.invalidParams)).not.toContain('secret-value');
  });

  it.each([
    ['null', null],
    ['an array', [{ username: 'alice' }]],
    ['a string', 'username=alice'],
  ])('refuses %s as the field set', (_, fields) => {
    const error = refusal(() => scalarFilter(fields as unknown as Record<string, unknown>));
    expect(error.invalidParams).toEqual([{ name: 'filter', reason: 'must be an object' }]);
  });
});
