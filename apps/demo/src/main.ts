import { hello } from '@app/security';
console.log('hello', hello);
